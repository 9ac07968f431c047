import { createLogger, type Logger, resolveMongo } from "@batch-gpt/config";
import { redisKeys } from "@batch-gpt/contracts";
import { OutcomeRecorder } from "@batch-gpt/pipeline";
import { OpenAIProvider } from "@batch-gpt/provider";
import { createRedis, DonePublisher, Inflight, QueueRegistry } from "@batch-gpt/queue";
import { openStore } from "@batch-gpt/store";
import type { PollerConfig } from "./config.ts";
import { Poller } from "./poller.ts";

export interface RunningPoller {
  poller: Poller;
  close(): Promise<void>;
}

/** Composition root of the poller. */
export async function startPoller(
  config: PollerConfig,
  log: Logger = createLogger("poller"),
): Promise<RunningPoller> {
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
  const poller = new Poller({
    store,
    queues,
    provider: new OpenAIProvider({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL }),
    outcomes,
    log,
    minIntervalMs: config.COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS,
    maxIntervalMs: config.COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS * 1000,
    concurrency: config.POLL_CONCURRENCY,
    lockDurationMs: config.POLL_JOB_LOCK_MS,
  });
  // At start, every unfinished batch gets a poll job: results stored but not announced by a poller
  // that died are announced again, and batches whose job was lost are tracked again.
  const sweep = () => poller.sweep().catch((err) => log.error({ err }, "poll sweep failed"));
  await sweep();
  const timer = setInterval(sweep, config.POLL_SWEEP_INTERVAL_MS);
  log.info("poller started");
  return {
    poller,
    async close() {
      clearInterval(timer);
      await poller.close();
      await queues.close();
      await redis.quit().catch(() => {});
      await store.close();
    },
  };
}
