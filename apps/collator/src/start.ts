import { hostname } from "node:os";
import { createLogger, type Logger, repeat } from "@batch-gpt/config";
import { adminKeys, collateQueue, redisKeys } from "@batch-gpt/contracts";
import { type ProbeServer, serveProbes } from "@batch-gpt/metrics";
import { openWorkerRuntime } from "@batch-gpt/pipeline";
import { Admission, createRedis, onFlush } from "@batch-gpt/queue";
import { Collator } from "./collator.ts";
import type { CollatorConfig } from "./config.ts";
import { Heartbeats } from "./heartbeat.ts";
import { removeOrphanBatchFiles } from "./jsonl.ts";
import { Recovery } from "./recovery.ts";
import { BatchSubmitter } from "./submitter.ts";

/** How long a stopping collator lets its uploads under way finish (the shutdown deadline is 20 s). */
const UPLOAD_SHUTDOWN_GRACE_MS = 10_000;

export interface RunningCollator {
  collatorId: string;
  recovery: Recovery;
  /** Its /metrics, /healthz and /readyz (METRICS_HOST, METRICS_PORT). */
  probes: ProbeServer;
  close(): Promise<void>;
}

/** Composition root of the collator. */
export async function startCollator(
  config: CollatorConfig,
  log: Logger = createLogger("collator"),
): Promise<RunningCollator> {
  const collatorId = `collator-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const runtime = await openWorkerRuntime(config, log);
  const { store, queues } = runtime;
  await store.ensureIndexes("collator");
  const probes = await serveProbes({
    host: config.METRICS_HOST,
    port: config.METRICS_PORT,
    metrics: runtime.metrics,
    ready: runtime.ready,
    log,
  });
  // Batch files a killed collator left behind (no cleanup runs after a SIGKILL).
  const orphans = await removeOrphanBatchFiles(config.BATCH_FILE_DIR);
  if (orphans.length > 0) log.info({ removed: orphans.length }, "removed batch files of stopped collators");
  const heartbeatMs = Math.max(200, Math.floor(config.COLLATOR_STALE_RECORD_MS / 4));
  const heartbeats = new Heartbeats({ store, log, intervalMs: heartbeatMs });
  const submitter = new BatchSubmitter({
    store,
    provider: runtime.provider,
    queues,
    outcomes: runtime.outcomes,
    log,
    collatorId,
    pollMinIntervalMs: config.COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS,
    heartbeatMs,
    heartbeats,
    fileDir: config.BATCH_FILE_DIR,
  });
  // Admission control's counts of queued requests: jobs it takes leave them.
  const admissionRedis = createRedis(config.REDIS_URL, "client");
  admissionRedis.on("error", (err) => log.error({ err: err.message }, "redis admission error"));
  const admission = new Admission(
    admissionRedis,
    redisKeys(config.BULL_PREFIX),
    `${config.BULL_PREFIX}:${collateQueue.name}:`,
  );
  const collator = new Collator({
    store,
    queues,
    submitter,
    log,
    collatorId,
    lockDurationMs: config.COLLATOR_JOB_LOCK_MS,
    maxAttempts: config.COLLATE_MAX_ATTEMPTS,
    markerTtlMs: config.CACHE_MARKER_TTL_SECONDS * 1000,
    outcomes: runtime.outcomes,
    admission,
    maxHeldBytes: config.COLLATOR_MAX_HELD_BYTES,
    maxFlushes: config.COLLATOR_MAX_FLUSHES,
    fileDir: config.BATCH_FILE_DIR,
    limits: {
      windowMs: config.COLLATE_BATCHES_FOR_DURATION_IN_MS,
      maxLines: config.COLLATE_MAX_LINES,
      maxBytes: config.COLLATE_MAX_BYTES,
    },
  });
  const recovery = new Recovery({
    store,
    submitter,
    heartbeats,
    log,
    collatorId,
    staleMs: config.COLLATOR_STALE_RECORD_MS,
  });

  await collator.start();
  // An operator's flush (admin API, `batch-gpt flush`) reaches every collator through Redis pub/sub.
  const signals = createRedis(config.REDIS_URL, "subscriber");
  signals.on("error", (err) => log.error({ err: err.message }, "redis subscriber error"));
  await onFlush(signals, adminKeys(config.BULL_PREFIX), ({ model }) => {
    log.info({ model, groups: collator.flushNow(model) }, "flushed on request");
  });
  const sweep = () =>
    Promise.all([
      recovery.sweep().catch((err) => log.error({ err }, "recovery sweep failed")),
      // Entries of requests whose job is gone (a gateway died between admitting and queueing it).
      admission.reconcile().catch((err) => log.error({ err }, "admission reconcile failed")),
    ]);
  // One sweep at a time: behind a slow store a sweep outlasts the interval, and sweeps started on top
  // of it each read the stale records again and raced for the same take-overs.
  const sweeps = repeat(sweep, config.COLLATOR_RECOVERY_INTERVAL_MS);
  log.info(
    { collatorId, windowMs: config.COLLATE_BATCHES_FOR_DURATION_IN_MS, metrics: `${probes.url}/metrics` },
    "collator started",
  );

  return {
    collatorId,
    recovery,
    probes,
    async close() {
      // Stop intake of new work first: flush held groups, then let the recovery sweep finish.
      const sweepsStopped = sweeps.stop();
      await signals.quit().catch(() => {});
      // An upload may take minutes: past a grace (well within the shutdown deadline) it is abandoned,
      // its file removed, and its record left for recovery to carry on.
      const abandon = setTimeout(() => submitter.stop(), UPLOAD_SHUTDOWN_GRACE_MS);
      await collator.close();
      // A recovery sweep may be carrying a record it took over: its upload is abandoned the same way.
      await sweepsStopped;
      await submitter.uploadsEnded();
      clearTimeout(abandon);
      await runtime.close();
      await admissionRedis.quit().catch(() => {});
      await probes.close();
    },
  };
}
