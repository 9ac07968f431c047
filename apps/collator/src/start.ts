import { hostname } from "node:os";
import { createLogger, type Logger, resolveMongo } from "@batch-gpt/config";
import { redisKeys } from "@batch-gpt/contracts";
import { OutcomeRecorder } from "@batch-gpt/pipeline";
import { OpenAIProvider } from "@batch-gpt/provider";
import { createRedis, DonePublisher, Inflight, QueueRegistry } from "@batch-gpt/queue";
import { openStore } from "@batch-gpt/store";
import { Collator } from "./collator.ts";
import type { CollatorConfig } from "./config.ts";
import { Recovery } from "./recovery.ts";
import { BatchSubmitter } from "./submitter.ts";

export interface RunningCollator {
  collatorId: string;
  recovery: Recovery;
  close(): Promise<void>;
}

/** Composition root of the collator. */
export async function startCollator(
  config: CollatorConfig,
  log: Logger = createLogger("collator"),
): Promise<RunningCollator> {
  const collatorId = `collator-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const mongo = resolveMongo(config);
  const store = await openStore(mongo.uri, mongo.dbName);
  const keys = redisKeys(config.BULL_PREFIX);
  const queues = new QueueRegistry({ redisUrl: config.REDIS_URL, prefix: config.BULL_PREFIX, log });
  const redis = createRedis(config.REDIS_URL, "worker");
  redis.on("error", (err) => log.error({ err: err.message }, "redis error"));
  const outcomes = new OutcomeRecorder({
    store,
    inflight: new Inflight(redis, keys),
    publisher: new DonePublisher(redis, keys),
    queues,
    maxResubmits: config.MAX_RESUBMITS,
    log,
  });
  const provider = new OpenAIProvider({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL });
  const submitter = new BatchSubmitter({
    store,
    provider,
    queues,
    outcomes,
    log,
    collatorId,
    pollMinIntervalMs: config.COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS,
    heartbeatMs: Math.max(200, Math.floor(config.COLLATOR_STALE_RECORD_MS / 4)),
  });
  const collator = new Collator({
    store,
    queues,
    submitter,
    log,
    collatorId,
    lockDurationMs: config.COLLATOR_JOB_LOCK_MS,
    limits: {
      windowMs: config.COLLATE_BATCHES_FOR_DURATION_IN_MS,
      maxLines: config.COLLATE_MAX_LINES,
      maxBytes: config.COLLATE_MAX_BYTES,
    },
  });
  const recovery = new Recovery({
    store,
    submitter,
    log,
    collatorId,
    staleMs: config.COLLATOR_STALE_RECORD_MS,
  });

  await collator.start();
  let sweeping: Promise<unknown> = recovery
    .sweep()
    .catch((err) => log.error({ err }, "recovery sweep failed"));
  const timer = setInterval(() => {
    sweeping = recovery.sweep().catch((err) => log.error({ err }, "recovery sweep failed"));
  }, config.COLLATOR_RECOVERY_INTERVAL_MS);
  log.info({ collatorId, windowMs: config.COLLATE_BATCHES_FOR_DURATION_IN_MS }, "collator started");

  return {
    collatorId,
    recovery,
    async close() {
      clearInterval(timer);
      await collator.close();
      await sweeping;
      await queues.close();
      await redis.quit().catch(() => {});
      await store.close();
    },
  };
}
