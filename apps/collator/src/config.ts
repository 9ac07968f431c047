import { appSchema, type Env, intSetting, parseEnv } from "@batch-gpt/config";
import { MAX_BATCH_FILE_BYTES, MAX_LINES_PER_BATCH } from "@batch-gpt/contracts";
import { z } from "zod";

const schema = appSchema.extend({
  /** A group is flushed this long after its first request arrived. */
  COLLATE_BATCHES_FOR_DURATION_IN_MS: intSetting(0).default(5000),
  /** Flush earlier once a group holds this many lines (OpenAI's limit is 50,000). */
  COLLATE_MAX_LINES: intSetting(1, MAX_LINES_PER_BATCH).default(MAX_LINES_PER_BATCH),
  /** Flush earlier once a group's JSONL would exceed this many bytes (OpenAI's limit is 200 MB). */
  COLLATE_MAX_BYTES: intSetting(1024, 200 * 1024 * 1024).default(MAX_BATCH_FILE_BYTES),
  /** A batch record whose collator has not reported for this long is taken over by another. */
  COLLATOR_STALE_RECORD_MS: intSetting(1000).default(120_000),
  /** How often to look for stale batch records. */
  COLLATOR_RECOVERY_INTERVAL_MS: intSetting(100).default(30_000),
  /** Where batch files are written before their upload (up to 200 MB each); unset = the system's temp folder. */
  BATCH_FILE_DIR: z.string().min(1).optional(),
  /** Held jobs are locked this long and renewed; a dead collator's jobs return to the queue after it. */
  COLLATOR_JOB_LOCK_MS: intSetting(1000).default(30_000),
  /**
   * Request bodies it holds at most (characters), in groups and flushes not yet recorded: at the limit
   * it flushes its largest group, and the rest of the queue waits in Redis.
   */
  COLLATOR_MAX_HELD_BYTES: intSetting(1024).default(256 * 1024 * 1024),
  /** Flushes under way at once (each holds its bodies until its upload is done); then fetching waits. */
  COLLATOR_MAX_FLUSHES: intSetting(1, 100).default(4),
  /** Tries of a request whose batch could not be recorded (backing off) before its callers get an error. */
  COLLATE_MAX_ATTEMPTS: intSetting(1, 1000).default(8),
  COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: intSetting(10).default(5000),
  MAX_RESUBMITS: intSetting(0, 100).default(3),
  /** As for the poller: resubmissions of lines whose batch failed only because of another line. */
  MAX_INNOCENT_RESUBMITS: intSetting(0, 100).default(5),
  /** Port of this process's /metrics, /healthz and /readyz; 0 = any free port. */
  METRICS_PORT: intSetting(0, 65535).default(9101),
  /** Address they listen on: loopback only by default (they have no keys: who can reach them may read them). */
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
});

export type CollatorConfig = z.infer<typeof schema>;
export const loadCollatorConfig = (env: Env): CollatorConfig => parseEnv(schema, env, "collator");
