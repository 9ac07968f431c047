import { z } from "zod";
import { ENDPOINTS } from "./endpoints.ts";

/**
 * The queue catalog: every queue of the system, each defined once — name, payload schema, job id,
 * job options, worker options and backoff. Producers and workers get all of it from here (through
 * `QueueRegistry`), so they cannot diverge.
 *
 * Finished jobs are removed on every queue: a job id is an attempt (or a batch record), and a kept job
 * would block that id for ever. The store, not the job, says whether a request is pending or finished.
 */
export interface QueueDefinition<Name extends string, Payload, IdArgs, Settings> {
  readonly name: Name;
  readonly schema: z.ZodType<Payload>;
  /** The job id is the dedup key: adding a job whose id exists is a no-op. */
  jobId(args: IdArgs): string;
  readonly jobOptions: JobOptions;
  /** BullMQ worker options for this queue, from the consuming app's settings. */
  workerOptions(settings: Settings): WorkerSettings;
}

/**
 * The BullMQ job and worker options our queues use, spelled out so contracts need no BullMQ: the
 * registry hands them to BullMQ as they are (they are a subset of its `JobsOptions` / `WorkerOptions`).
 */
export interface JobOptions {
  removeOnComplete?: boolean;
  removeOnFail?: boolean;
  attempts?: number;
  /** A named strategy, given by the worker's `settings.backoffStrategy`. */
  backoff?: { type: string };
}
export interface WorkerSettings {
  /** false: the app fetches jobs itself (`getNextJob`) instead of running a processor. */
  autorun?: boolean;
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
  drainDelay?: number;
  settings?: { backoffStrategy?: (attemptsMade: number) => number };
}

const collateJobSchema = z.object({
  requestId: z.string(),
  attempt: z.number().int().min(0),
  /** The tenant (client scope) the request belongs to. Named `owner` in the stored job format. */
  owner: z.string(),
  provider: z.string(),
  endpoint: z.enum(ENDPOINTS),
  model: z.string(),
  /** The request body exactly as the client sent it (JSON text), so no field is lost or rewritten. */
  body: z.string(),
  /** Cache / dedup key. */
  key: z.string(),
  /** Trace id of the HTTP request that created it, so logs follow a request into its batch. */
  traceId: z.string(),
  createdAt: z.number(),
  /**
   * Cache entries stored at or after this time (epoch ms) may answer the request when the collator
   * looks it up in MongoDB's cache (its Redis marker had expired). Absent: the cache is not consulted
   * (a `no-cache` request, a resubmission, a job from before this field).
   */
  cacheFrom: z.number().optional(),
  /** Format version (FORMAT_VERSION); jobs queued before it existed have none and read the same. */
  v: z.number().int().optional(),
});
export type CollateJob = z.infer<typeof collateJobSchema>;

/** The longest wait before a collate job whose flush failed is tried again. */
const COLLATE_MAX_RETRY_MS = 5 * 60_000;

/**
 * One job per request attempt; the collator fetches them itself and gathers them into batches.
 * Held jobs stay locked (renewed), so a dead collator's jobs return through BullMQ's stalled check.
 * A job whose group could not be recorded is failed with BullMQ's retry: it comes back after a backoff
 * (the collation window, doubling), and the collator gives up on it after COLLATE_MAX_ATTEMPTS tries,
 * answering its callers with an error (its dead-letter path). The attempt cap is the collator's
 * setting, not the job's: `attempts` here only lets BullMQ retry.
 */
export const collateQueue = {
  name: "collate",
  schema: collateJobSchema,
  /** Attempt 0 keeps the bare request id: the gateway looks a request's first job up by its id. */
  jobId: ({ requestId, attempt }: { requestId: string; attempt: number }) =>
    attempt === 0 ? requestId : `${requestId}-a${attempt}`,
  jobOptions: {
    removeOnComplete: true,
    removeOnFail: true,
    attempts: 1_000_000,
    backoff: { type: "collate" },
  },
  workerOptions: ({ lockMs, retryMs }: { lockMs: number; retryMs: number }) => ({
    // Jobs are fetched by hand (batching jobs is a paid BullMQ feature): no processor runs.
    autorun: false,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
    maxStalledCount: 1000,
    drainDelay: 1,
    settings: {
      backoffStrategy: (attemptsMade: number) =>
        Math.min(COLLATE_MAX_RETRY_MS, retryMs * 2 ** Math.max(0, attemptsMade - 1)),
    },
  }),
} as const satisfies QueueDefinition<
  "collate",
  CollateJob,
  { requestId: string; attempt: number },
  { lockMs: number; retryMs: number }
>;

const pollJobSchema = z.object({
  recordId: z.string(),
  /** Delay before the next check; doubles up to the configured maximum. */
  intervalMs: z.number().int().min(0),
  /** The batch's progress at the last check (lines done, when): how fast it runs, so when it will end. */
  progress: z.object({ done: z.number().int().min(0), atMs: z.number() }).optional(),
  /** Format version (FORMAT_VERSION); absent on jobs queued before it existed. */
  v: z.number().int().optional(),
});
export type PollJob = z.infer<typeof pollJobSchema>;

export interface PollWorkerSettings {
  lockMs: number;
  concurrency: number;
  minIntervalMs: number;
  maxIntervalMs: number;
}

/**
 * One job per submitted batch record; it reschedules itself until the batch is terminal.
 * A failed check is retried with backoff (min interval doubling per failure, capped at the max),
 * never abandoned; a poller dying mid-check never makes a batch's tracking give up.
 */
export const pollQueue = {
  name: "poll",
  schema: pollJobSchema,
  jobId: ({ recordId }: { recordId: string }) => `poll-${recordId}`,
  jobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1_000_000, backoff: { type: "poll" } },
  workerOptions: (s: PollWorkerSettings) => ({
    concurrency: s.concurrency,
    lockDuration: s.lockMs,
    stalledInterval: Math.max(500, Math.floor(s.lockMs / 2)),
    maxStalledCount: 1_000_000,
    settings: {
      backoffStrategy: (attemptsMade: number) =>
        Math.min(s.maxIntervalMs, s.minIntervalMs * 2 ** Math.max(0, attemptsMade - 1)),
    },
  }),
} as const satisfies QueueDefinition<"poll", PollJob, { recordId: string }, PollWorkerSettings>;

/** Every queue of the system (what a dashboard lists). */
export const QUEUE_CATALOG = [collateQueue, pollQueue] as const;
