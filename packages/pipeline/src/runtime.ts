import { type AppSettings, type Logger, resolveMongo } from "@batch-gpt/config";
import { type RedisKeys, redisKeys } from "@batch-gpt/contracts";
import { AppMetrics, lineMetrics, providerMetrics, type ReadyChecks } from "@batch-gpt/metrics";
import { type BatchProvider, OpenAIProvider } from "@batch-gpt/provider";
import { CacheTier, createRedis, DonePublisher, Inflight, QueueRegistry } from "@batch-gpt/queue";
import { openStore, type Store } from "@batch-gpt/store";
import { OutcomeRecorder } from "./outcomes.ts";

/** What the collator and the poller both stand on: store, queues, provider and outcome recording. */
export interface WorkerRuntime {
  store: Store;
  queues: QueueRegistry;
  provider: BatchProvider;
  outcomes: OutcomeRecorder;
  /** The process's Redis connection (besides the queues') and its key names. */
  redis: ReturnType<typeof createRedis>;
  keys: RedisKeys;
  /** The process's metrics: lines by outcome, resubmissions, provider errors (the app adds its own). */
  metrics: AppMetrics;
  /** Whether Redis and MongoDB answer (`/readyz`). */
  ready(): Promise<ReadyChecks>;
  /** Closes queues, Redis and Mongo, after the app has stopped its own workers. */
  close(): Promise<void>;
}

export async function openWorkerRuntime(
  config: AppSettings & { MAX_RESUBMITS: number; MAX_INNOCENT_RESUBMITS: number },
  log: Logger,
): Promise<WorkerRuntime> {
  const mongo = resolveMongo(config);
  const store = await openStore(mongo.uri, mongo.dbName);
  const keys = redisKeys(config.BULL_PREFIX);
  const metrics = new AppMetrics();
  const queues = new QueueRegistry({ redisUrl: config.REDIS_URL, prefix: config.BULL_PREFIX, log });
  const redis = createRedis(config.REDIS_URL, "worker");
  redis.on("error", (err) => log.error({ err: err.message }, "redis error"));
  const outcomes = new OutcomeRecorder({
    store,
    inflight: new Inflight(redis, keys, { markerTtlSeconds: config.CACHE_MARKER_TTL_SECONDS }),
    tier: new CacheTier(redis, keys, {
      maxEntryBytes: config.CACHE_REDIS_MAX_ENTRY_BYTES,
      ttlSeconds: config.CACHE_REDIS_TTL_SECONDS,
    }),
    publisher: new DonePublisher(redis, keys, {
      carryMaxBytes: config.ANSWER_CARRY_MAX_BYTES,
      ttlSeconds: config.ANSWER_REDIS_TTL_SECONDS,
    }),
    queues,
    maxResubmits: config.MAX_RESUBMITS,
    maxInnocentResubmits: config.MAX_INNOCENT_RESUBMITS,
    log,
    metrics: lineMetrics(metrics.registry),
  });
  const provider = new OpenAIProvider({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    metrics: providerMetrics(metrics.registry),
  });
  return {
    store,
    queues,
    provider,
    outcomes,
    redis,
    keys,
    metrics,
    async ready() {
      const [redisCheck, mongoCheck] = await Promise.all([
        answers(redis.ping()),
        answers(store.mongo.db.command({ ping: 1 })),
      ]);
      return { redis: redisCheck, mongo: mongoCheck };
    },
    async close() {
      await queues.close();
      await redis.quit().catch(() => {});
      await store.close();
    },
  };
}

/** "ok" when `check` succeeds within 2 s: a worker's Redis connection queues commands while it is down. */
function answers(check: Promise<unknown>): Promise<"ok" | "down"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"down">((resolve) => {
    timer = setTimeout(() => resolve("down"), 2000);
  });
  return Promise.race([check.then(() => "ok" as const), late])
    .catch(() => "down" as const)
    .finally(() => clearTimeout(timer));
}
