import type { JobPayloads, QueueName } from "@batch-gpt/contracts";
import { type JobsOptions, Queue, Worker, type WorkerOptions } from "bullmq";
import type { Redis } from "ioredis";
import { createRedis } from "./redis.ts";

/**
 * Finished jobs are removed: a job id is an attempt id, and a kept job would block that id forever.
 * The store, not the job, says whether a request is pending, answered or failed.
 */
const JOB_DEFAULTS: Record<QueueName, JobsOptions> = {
  collate: { removeOnComplete: true, removeOnFail: true },
  // A failed status check is retried with backoff (capped by the poller's strategy), never abandoned.
  poll: { removeOnComplete: true, removeOnFail: true, attempts: 1_000_000, backoff: { type: "poll" } },
};

type Logger = { error: (obj: object, msg: string) => void };

/**
 * Every BullMQ Queue and Worker of a process is made here, with an error listener, the shared prefix
 * and the right connection kind; `close()` shuts them in order (workers before queues).
 */
export class QueueRegistry {
  readonly prefix: string;
  readonly #url: string;
  readonly #log: Logger;
  readonly #queues = new Map<QueueName, Queue>();
  readonly #workers: Worker[] = [];
  readonly #connections: Redis[] = [];

  constructor(opts: { redisUrl: string; prefix: string; log: Logger }) {
    this.#url = opts.redisUrl;
    this.prefix = opts.prefix;
    this.#log = opts.log;
  }

  /** Producer side: fails fast when Redis is unreachable. */
  queue<N extends QueueName>(name: N): Queue<JobPayloads[N]> {
    let queue = this.#queues.get(name);
    if (!queue) {
      const connection = this.#connection("client");
      queue = new Queue(name, { connection, prefix: this.prefix, defaultJobOptions: JOB_DEFAULTS[name] });
      queue.on("error", (err) => this.#log.error({ err, queue: name }, "queue error"));
      this.#queues.set(name, queue);
    }
    return queue as unknown as Queue<JobPayloads[N]>;
  }

  worker<N extends QueueName>(
    name: N,
    processor: ConstructorParameters<typeof Worker<JobPayloads[N]>>[1],
    opts: Omit<WorkerOptions, "connection" | "prefix"> = {},
  ): Worker<JobPayloads[N]> {
    const worker = new Worker<JobPayloads[N]>(name, processor, {
      ...opts,
      connection: this.#connection("worker"),
      prefix: this.prefix,
    });
    worker.on("error", (err) => this.#log.error({ err, queue: name }, "worker error"));
    this.#workers.push(worker as unknown as Worker);
    return worker;
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
