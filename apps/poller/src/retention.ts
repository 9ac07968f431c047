import type { Logger } from "@batch-gpt/config";
import { RetentionSweeper, type WorkerRuntime } from "@batch-gpt/pipeline";
import type { PollerConfig } from "./config.ts";

/**
 * The retention sweep, in the poller because it already sweeps: every RETENTION_SWEEP_INTERVAL_MS
 * (first at start), only when a window is set. The indexes its queries and an operator's tenant erase
 * need are created at every start (a no-op once they exist).
 */
export async function startRetention(
  runtime: WorkerRuntime,
  config: PollerConfig,
  log: Logger,
): Promise<RetentionSweeper> {
  await runtime.store.retention.ensureIndexes();
  const sweeper = new RetentionSweeper({
    store: runtime.store,
    redis: runtime.redis,
    keys: runtime.keys,
    windows: {
      requestBodiesDays: config.RETAIN_REQUEST_BODIES_DAYS,
      answersDays: config.RETAIN_ANSWERS_DAYS,
      batchesDays: config.RETAIN_BATCHES_DAYS,
      callsDays: config.RETAIN_CALLS_DAYS,
      cacheTtlSeconds: config.CACHE_TTL_SECONDS,
    },
    log,
  });
  sweeper.start(config.RETENTION_SWEEP_INTERVAL_MS);
  return sweeper;
}
