import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Every metric of the system, defined once: names, help texts and labels live here and nowhere else.
 * Each app registers the groups it serves into its own registry (apps/<app>/src/start.ts), so one
 * process running several apps (the tests) keeps their figures apart.
 */

/** How a call to a batched endpoint ended, as `batchgpt_requests_total` counts it. */
export const REQUEST_OUTCOMES = [
  /** Answered from the cache. */
  "cache_hit",
  /** `x-batch-mode: cache` and nothing cached: 404. */
  "cache_miss",
  /** Async: 202 with an id. */
  "accepted",
  /** A held caller got a 2xx answer. */
  "succeeded",
  /** A held caller got the line's error. */
  "failed",
  /** 503 `request_lost`: the request vanished. */
  "lost",
  /** 503 `server_shutting_down`: this gateway stopped while holding the caller. */
  "shutdown",
  /** The caller went away before its answer. */
  "gone",
  /** Refused before intake: a 4xx (bad body, unknown model, too large, quota). */
  "rejected",
  /** Any other failure (5xx): e.g. the request could not be queued. */
  "error",
] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** Seconds: cache hits take milliseconds, batched answers minutes to a day. */
const ANSWER_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];

/** The gateway's own counts (per process: sum them over gateways). */
export function gatewayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "batchgpt_requests_total",
      help: "Calls to the batched endpoints, by endpoint, serving mode and how they ended",
      labelNames: ["endpoint", "mode", "outcome"] as const,
      registers,
    }),
    duration: new Histogram({
      name: "batchgpt_request_duration_seconds",
      help: "Time from a call's arrival to its answer (or its 202, or its error), by endpoint and outcome",
      labelNames: ["endpoint", "outcome"] as const,
      buckets: ANSWER_BUCKETS,
      registers,
    }),
    cacheLookups: new Counter({
      name: "batchgpt_cache_lookups_total",
      help: "Cache lookups by result: hit or miss (calls sent with Cache-Control: no-cache make none)",
      labelNames: ["result"] as const,
      registers,
    }),
    dedupAttaches: new Counter({
      name: "batchgpt_dedup_attaches_total",
      help: "Calls attached to an identical request already in flight (no new batch line)",
      labelNames: ["endpoint"] as const,
      registers,
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;

/** Callers this gateway holds open right now, read at scrape time. */
export function heldCallersMetric(registry: Registry, count: () => number): Gauge {
  return new Gauge({
    name: "batchgpt_held_callers",
    help: "Sync and streaming callers held open by this gateway, waiting for their answer",
    registers: [registry],
    collect() {
      this.set(count());
    },
  });
}

/** Line outcomes recorded by this process (the poller, and the collator for batches refused outright). */
export function lineMetrics(registry: Registry) {
  const registers = [registry];
  return {
    lines: new Counter({
      name: "batchgpt_lines_total",
      help: "Batch lines settled, by outcome: succeeded, failed, resubmitted, or stale (a line of an older attempt)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    resubmissions: new Counter({
      name: "batchgpt_resubmissions_total",
      help: "Requests sent again as a new attempt, by reason (the error code of the line that did not run)",
      labelNames: ["reason"] as const,
      registers,
    }),
  };
}
export type LineMetrics = ReturnType<typeof lineMetrics>;

/** Calls to the batch provider's API that failed (every process calls it). */
export function providerMetrics(registry: Registry) {
  return {
    errors: new Counter({
      name: "batchgpt_provider_errors_total",
      help: "Failed calls to the batch provider's API, by call and HTTP status (network: no response)",
      labelNames: ["call", "status"] as const,
      registers: [registry],
    }),
  };
}
export type ProviderMetrics = ReturnType<typeof providerMetrics>;

/** Batch records counted by state and status (see `batchStatusOf`). */
export interface BatchCount {
  state: string;
  status: string;
  count: number;
}

/** One queue of the catalog as BullMQ sees it. */
export interface QueueFigure {
  queue: string;
  /** Jobs by BullMQ state (waiting, active, delayed, prioritized, paused, completed, failed, …). */
  counts: Record<string, number>;
  /** Age of the oldest job waiting to be taken, in milliseconds; null when none waits. */
  oldestWaitingMs: number | null;
  /** BullMQ's own running totals of jobs its workers completed and failed (its `metrics` option). */
  completed: number;
  failed: number;
}

/**
 * Figures for the whole deployment, read from Redis and MongoDB when scraped: every gateway reports
 * the same values, so aggregate them with `max`, not `sum`. `source` caches them briefly (the four
 * gauges read the queues once per scrape, and a scrape never waits on a collection scan per metric).
 */
export function deploymentMetrics(
  registry: Registry,
  source: { batches(): Promise<BatchCount[]>; queues(): Promise<QueueFigure[]> },
) {
  const registers = [registry];
  return {
    batches: new Gauge({
      name: "batchgpt_batches",
      help: "Batch records by record state and status (provider status, verdict, or collating step)",
      labelNames: ["state", "status"] as const,
      registers,
      async collect() {
        const counts = await unlessDown(source.batches());
        this.reset();
        for (const { state, status, count } of counts) this.set({ state, status }, count);
      },
    }),
    queueJobs: new Gauge({
      name: "batchgpt_queue_jobs",
      help: "Jobs in each queue by BullMQ state (waiting = queue depth)",
      labelNames: ["queue", "state"] as const,
      registers,
      async collect() {
        const figures = await unlessDown(source.queues());
        this.reset();
        for (const figure of figures)
          for (const [state, count] of Object.entries(figure.counts))
            this.set({ queue: figure.queue, state }, count);
      },
    }),
    oldestWaiting: new Gauge({
      name: "batchgpt_queue_oldest_waiting_seconds",
      help: "Age of the oldest job waiting in each queue (0 when none waits)",
      labelNames: ["queue"] as const,
      registers,
      async collect() {
        const figures = await unlessDown(source.queues());
        this.reset();
        for (const figure of figures) this.set({ queue: figure.queue }, (figure.oldestWaitingMs ?? 0) / 1000);
      },
    }),
    finishedJobs: new Gauge({
      name: "batchgpt_queue_finished_jobs",
      help: "BullMQ's running totals of jobs completed and failed per queue (a counter kept in Redis)",
      labelNames: ["queue", "result"] as const,
      registers,
      async collect() {
        const figures = await unlessDown(source.queues());
        this.reset();
        for (const figure of figures) {
          this.set({ queue: figure.queue, result: "completed" }, figure.completed);
          this.set({ queue: figure.queue, result: "failed" }, figure.failed);
        }
      },
    }),
  };
}

/**
 * The figures, or none while Redis or MongoDB does not answer: the scrape still succeeds with the
 * process's own metrics (the series are absent, which alerting can see), rather than failing whole.
 */
function unlessDown<T>(figures: Promise<T[]>): Promise<T[]> {
  return figures.catch(() => []);
}
