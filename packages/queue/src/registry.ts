import type { QueueDefinition } from "@batch-gpt/contracts";
import { type Job, type JobState, type JobsOptions, MetricsTime, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { createRedis } from "./redis.ts";

type Logger = { error: (obj: object, msg: string) => void };
// biome-ignore lint/suspicious/noExplicitAny: a definition of any queue
type AnyDefinition = QueueDefinition<string, any, any, any>;

/** The producer side of one queue: jobs added with the id and options its definition gives. */
export interface Producer<P, IdArgs> {
  readonly definition: QueueDefinition<string, P, IdArgs, unknown>;
  /** Adds `payload`; a job with the same id already there makes this a no-op. */
  add(payload: P & IdArgs, opts?: Pick<JobsOptions, "delay">): Promise<Job<P>>;
  /** BullMQ's state of the job `args` names ("unknown" when there is none). */
  state(args: IdArgs): Promise<JobState | "unknown">;
}

/**
 * Every BullMQ Queue and Worker of a process is made here, from the queue catalog's definitions, with
 * an error listener, the shared prefix and the right connection kind; `close()` shuts them in order
 * (workers before queues).
 */
export class QueueRegistry {
  readonly prefix: string;
  readonly #url: string;
  readonly #log: Logger;
  readonly #queues = new Map<string, Queue>();
  readonly #workers: Worker[] = [];
  readonly #connections: Redis[] = [];

  constructor(opts: { redisUrl: string; prefix: string; log: Logger }) {
    this.#url = opts.redisUrl;
    this.prefix = opts.prefix;
    this.#log = opts.log;
  }

  /** Producer side: fails fast when Redis is unreachable. */
  producer<P, IdArgs>(definition: QueueDefinition<string, P, IdArgs, never>): Producer<P, IdArgs> {
    const queue = this.#queue(definition);
    return {
      definition: definition as QueueDefinition<string, P, IdArgs, unknown>,
      add: (payload, opts = {}) =>
        queue.add(definition.name, payload, { ...opts, jobId: definition.jobId(payload) }) as Promise<Job<P>>,
      state: (args) => queue.getJobState(definition.jobId(args)),
    };
  }

  /**
   * Consumer side, with the definition's worker options. `processor` null means the app fetches jobs
   * itself (`getNextJob`).
   */
  worker<P, S>(
    definition: QueueDefinition<string, P, never, S>,
    processor: ((job: Job<P>, token?: string) => Promise<unknown>) | null,
    settings: S,
  ): Worker<P> {
    const worker = new Worker<P>(definition.name, processor, {
      ...definition.workerOptions(settings),
      // BullMQ's own per-minute counts of completed and failed jobs, kept in Redis for a week: the
      // gateway's /metrics reads their running totals (`Queue.getMetrics`).
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
      connection: this.#connection("worker"),
      prefix: this.prefix,
    });
    worker.on("error", (err) => this.#log.error({ err, queue: definition.name }, "worker error"));
    // No failure is silent: each try that fails is logged (its retry, or its dead letter, is the app's).
    worker.on("failed", (job, err) =>
      this.#log.error(
        { err: err.message, queue: definition.name, jobId: job?.id, attemptsMade: job?.attemptsMade },
        "job failed",
      ),
    );
    this.#workers.push(worker as Worker);
    return worker;
  }

  /** The BullMQ Queue of `definition` (dashboards and metrics read it; producers use `producer`). */
  bullQueue(definition: AnyDefinition): Queue {
    return this.#queue(definition);
  }

  #queue(definition: AnyDefinition): Queue {
    let queue = this.#queues.get(definition.name);
    if (!queue) {
      const connection = this.#connection("client");
      queue = new Queue(definition.name, {
        connection,
        prefix: this.prefix,
        defaultJobOptions: definition.jobOptions,
      });
      queue.on("error", (err) => this.#log.error({ err, queue: definition.name }, "queue error"));
      this.#queues.set(definition.name, queue);
    }
    return queue;
  }

  #connection(role: "worker" | "client"): Redis {
    const connection = createRedis(this.#url, role);
    connection.on("error", (err) => this.#log.error({ err: err.message, role }, "redis connection error"));
    this.#connections.push(connection);
    return connection;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((w) => w.close()));
    await Promise.allSettled([...this.#queues.values()].map((q) => q.close()));
    await Promise.allSettled(this.#connections.map((c) => c.quit()));
  }
}
