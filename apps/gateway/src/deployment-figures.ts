import { QUEUE_CATALOG } from "@batch-gpt/contracts";
import { type BatchCount, batchStatusOf, cachedFor, type QueueFigure } from "@batch-gpt/metrics";
import type { Queue, QueueRegistry } from "@batch-gpt/queue";
import { countBatches, type Store } from "@batch-gpt/store";
import type { Redis } from "ioredis";

/**
 * How long the batch counts are reused: on FerretDB v1 counting reads every batch record, so a
 * scrape, a dashboard refresh and another scrape within this time share one read.
 */
const BATCH_COUNTS_TTL_MS = 5000;
/** The queues are a few cheap Redis reads, shared by the metrics of one scrape and a refresh or two. */
const QUEUE_FIGURES_TTL_MS = 1000;

/**
 * Figures for the whole deployment, not this process: batch records by status (MongoDB) and every
 * queue of the catalog (BullMQ, in Redis). Read when asked (a scrape of /metrics, a dashboard) and
 * remembered briefly.
 */
export class DeploymentFigures {
  /** Batch records by record state and status (`batchStatusOf`). */
  readonly batches: () => Promise<BatchCount[]>;
  /** Each queue of the catalog: jobs by state, the oldest waiting job's age, BullMQ's running totals. */
  readonly queues: () => Promise<QueueFigure[]>;

  constructor(opts: { store: Store; queues: QueueRegistry }) {
    const batches = opts.store.mongo.collections.batches;
    this.batches = cachedFor(BATCH_COUNTS_TTL_MS, async () => {
      const counts = new Map<string, BatchCount>();
      for (const tally of await countBatches(batches)) {
        const status = batchStatusOf(tally);
        const key = `${tally.state}\n${status}`;
        const seen = counts.get(key);
        if (seen) seen.count += tally.count;
        else counts.set(key, { state: tally.state, status, count: tally.count });
      }
      return [...counts.values()];
    });
    this.queues = cachedFor(QUEUE_FIGURES_TTL_MS, () =>
      Promise.all(QUEUE_CATALOG.map((definition) => queueFigure(opts.queues.bullQueue(definition)))),
    );
  }
}

async function queueFigure(queue: Queue): Promise<QueueFigure> {
  const [counts, oldest, completed, failed] = await Promise.all([
    queue.getJobCounts(),
    oldestWaiting(queue),
    // BullMQ's own metrics (the workers' `metrics` option): running totals kept in Redis.
    queue.getMetrics("completed", 0, 0),
    queue.getMetrics("failed", 0, 0),
  ]);
  return {
    queue: queue.name,
    counts,
    oldestWaitingMs: oldest === null ? null : Math.max(0, Date.now() - oldest),
    completed: completed.meta.count,
    failed: failed.meta.count,
  };
}

/**
 * When the job next in line was added (BullMQ adds to the head of the wait list and takes from its
 * tail): two Redis reads, without loading the job's payload (a request body).
 */
async function oldestWaiting(queue: Queue): Promise<number | null> {
  // An ioredis client: the registry makes every connection with ioredis.
  const client = (await queue.getBackend().client) as unknown as Redis;
  const id = await client.lindex(queue.keys.wait!, -1);
  if (!id) return null;
  const timestamp = await client.hget(queue.toKey(id), "timestamp");
  return timestamp ? Number(timestamp) : null;
}
