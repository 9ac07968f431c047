import { Job, type JobsOptions, type Worker } from "bullmq";

/**
 * What a worker that fetches jobs itself must keep of a job it holds, to extend its lock and to move it
 * on (completed, failed, back to wait): its id, name, tries and options. Not the `Job` itself: each
 * carries its payload, a bound function and some thirty fields, and a collator gathering a 50,000-line
 * batch held 50,000 of them (about 40 MB of its live heap, measured by a heap snapshot).
 */
export interface JobRef {
  id?: string | undefined;
  name: string;
  attemptsMade: number;
  opts: JobsOptions;
}

/** Options objects shared by the refs whose jobs have the same options (most of a queue's jobs). */
const sharedOpts = new Map<string, JobsOptions>();
const MAX_SHARED_OPTS = 1000;

/** The ref of a fetched job; the job (and its payload) can then be let go. */
export function jobRef(job: Job): JobRef {
  // The job id is in its options too: left out, the options of a queue's jobs are mostly the same.
  const { jobId: _id, ...opts } = job.opts as JobsOptions & { jobId?: string };
  const key = JSON.stringify(opts);
  let shared = sharedOpts.get(key);
  if (!shared) {
    if (sharedOpts.size >= MAX_SHARED_OPTS) sharedOpts.clear();
    shared = opts;
    sharedOpts.set(key, shared);
  }
  return { id: job.id, name: job.name, attemptsMade: job.attemptsMade, opts: shared };
}

/**
 * A `Job` rebuilt from its ref, to move it on with its lock token. BullMQ's moves read only the id, the
 * options (attempts, backoff, what to keep) and the tries made, never the payload.
 */
export function jobHandle<T>(worker: Worker<T>, ref: JobRef): Job<T> {
  const job = new Job<T>(worker, ref.name, null as T, ref.opts, ref.id);
  job.attemptsMade = ref.attemptsMade;
  return job;
}
