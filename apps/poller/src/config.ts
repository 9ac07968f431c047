import { appSchema, type Env, intSetting, parseEnv } from "@batch-gpt/config";
import { z } from "zod";

const schema = appSchema.extend({
  /** First status check this long after submission; the interval then doubles. */
  COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: intSetting(10).default(5000),
  /** The doubling stops here. */
  COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS: intSetting(1).default(300),
  /** How often every unfinished batch is given a poll job (covers lost or never-added jobs). */
  POLL_SWEEP_INTERVAL_MS: intSetting(100).default(60_000),
  /** A poll job is locked this long while it runs (renewed); a dead poller's jobs return after it. */
  POLL_JOB_LOCK_MS: intSetting(1000).default(30_000),
  /** Batches checked at once by one poller. */
  POLL_CONCURRENCY: intSetting(1, 100).default(8),
  /** Failed checks of one batch (backing off) before its lines are failed with an error to their callers. */
  POLL_MAX_ATTEMPTS: intSetting(1).default(300),
  /** How many times a line left unfinished by an expired or cancelled batch is sent again. */
  MAX_RESUBMITS: intSetting(0, 100).default(3),
  /**
   * How many times a line is sent again because its batch failed validation naming other lines (the
   * culprits fail alone); these do not count against MAX_RESUBMITS.
   */
  MAX_INNOCENT_RESUBMITS: intSetting(0, 100).default(5),
  /** Lines of a batch refused for OpenAI's enqueued-token limit are sent again after this long, doubling per attempt. */
  TOKEN_LIMIT_RETRY_MS: intSetting(0).default(60_000),
  // Retention (retention.ts): each window unset = kept for ever. Only finished requests and `done`
  // batch records are ever touched.
  /** A finished request's body is blanked this many days after it finished (its record stays). */
  RETAIN_REQUEST_BODIES_DAYS: intSetting(1, 36_500).optional(),
  /** A finished request's answer is replaced by a 404 `answer_expired` error this many days after it finished. */
  RETAIN_ANSWERS_DAYS: intSetting(1, 36_500).optional(),
  /** A `done` batch record (and its line manifest) is deleted this many days after it was last written. */
  RETAIN_BATCHES_DAYS: intSetting(1, 36_500).optional(),
  /** An async call record is deleted this many days after the call, once its request has finished. */
  RETAIN_CALLS_DAYS: intSetting(1, 36_500).optional(),
  /** As the gateway's: cache entries older than this answer no one, and the sweep deletes them. */
  CACHE_TTL_SECONDS: intSetting(1).optional(),
  /** How often the retention sweep runs (only when a window above is set). */
  RETENTION_SWEEP_INTERVAL_MS: intSetting(100).default(3_600_000),
  /** Port of this process's /metrics, /healthz and /readyz; 0 = any free port. */
  METRICS_PORT: intSetting(0, 65535).default(9102),
  /** Address they listen on: loopback only by default (they have no keys: who can reach them may read them). */
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
});

export type PollerConfig = z.infer<typeof schema>;
export const loadPollerConfig = (env: Env): PollerConfig => parseEnv(schema, env, "poller");
