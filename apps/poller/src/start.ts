import { createLogger, type Logger, repeat } from "@batch-gpt/config";
import { type ProbeServer, serveProbes } from "@batch-gpt/metrics";
import { openWorkerRuntime } from "@batch-gpt/pipeline";
import type { PollerConfig } from "./config.ts";
import { Poller } from "./poller.ts";
import { startRetention } from "./retention.ts";

export interface RunningPoller {
  poller: Poller;
  /** Its /metrics, /healthz and /readyz (METRICS_HOST, METRICS_PORT). */
  probes: ProbeServer;
  close(): Promise<void>;
}

/** Composition root of the poller. */
export async function startPoller(
  config: PollerConfig,
  log: Logger = createLogger("poller"),
): Promise<RunningPoller> {
  const runtime = await openWorkerRuntime(config, log);
  await runtime.store.ensureIndexes("poller");
  // Records finished by an earlier version still carry their line lists, and on FerretDB v1 every read
  // of a live record decoded them all: dropped once, beside the start rather than before it (a scan of
  // every record on FerretDB v1). Nothing waits on them: no transition leaves `done`. So do the line
  // manifests of finished records (kept by earlier versions, or left by a poller stopped after a settle).
  const logged = (what: string) =>
    [
      (records: number) => {
        if (records > 0) log.info({ records }, `finished batch records' ${what} dropped`);
      },
      (err: unknown) =>
        log.warn({ err }, `finished batch records' ${what} not dropped (tried at the next start)`),
    ] as const;
  const dropping = runtime.store.batches
    .dropFinishedLines()
    .then(...logged("line lists"))
    .then(() => runtime.store.lines.dropFinished((ids) => runtime.store.batches.finishedAmong(ids)))
    .then(...logged("line manifests"));
  const probes = await serveProbes({
    host: config.METRICS_HOST,
    port: config.METRICS_PORT,
    metrics: runtime.metrics,
    ready: runtime.ready,
    log,
  });
  const poller = new Poller({
    store: runtime.store,
    queues: runtime.queues,
    provider: runtime.provider,
    outcomes: runtime.outcomes,
    log,
    minIntervalMs: config.COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS,
    maxIntervalMs: config.COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS * 1000,
    concurrency: config.POLL_CONCURRENCY,
    lockDurationMs: config.POLL_JOB_LOCK_MS,
    tokenLimitRetryMs: config.TOKEN_LIMIT_RETRY_MS,
    maxAttempts: config.POLL_MAX_ATTEMPTS,
  });
  // At start, every unfinished batch gets a poll job: results stored but not announced by a poller
  // that died are announced again, and batches whose job was lost are tracked again.
  const sweep = () => poller.sweep().catch((err) => log.error({ err }, "poll sweep failed"));
  await sweep();
  // One sweep at a time: behind a slow store a sweep outlasts the interval, and each one started on
  // top of it read every submitted record again.
  const sweeps = repeat(sweep, config.POLL_SWEEP_INTERVAL_MS, { first: false });
  const retention = await startRetention(runtime, config, log);
  log.info({ metrics: `${probes.url}/metrics` }, "poller started");
  return {
    poller,
    probes,
    async close() {
      await sweeps.stop();
      await retention.stop();
      await dropping;
      await poller.close();
      await runtime.close();
      await probes.close();
    },
  };
}
