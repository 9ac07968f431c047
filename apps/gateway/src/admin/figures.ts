import {
  type AdminBatchList,
  type AdminKeys,
  type AdminOverview,
  type BatchFilter,
  batchViewOf,
  COLLATING_BATCH_STATES,
} from "@batch-gpt/contracts";
import { collateBacklog } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import type { Redis } from "ioredis";
import { adminBatch } from "./batch-view.ts";
import { REPORT_STALE_MS } from "./reporter.ts";
import type { BatchesRead } from "./snapshot.ts";

export interface FigureSources {
  store: Store;
  redis: Redis;
  keys: AdminKeys;
  /** The deployment's Redis prefix (BULL_PREFIX): where the collate queue is. */
  prefix: string;
}

/** One page of the records in `status`; only the page's collating records are read again (their line count). */
export async function batchPage(
  store: Store,
  read: BatchesRead,
  status: BatchFilter,
  offset: number,
  limit: number,
): Promise<AdminBatchList> {
  const matching = status === "all" ? read.records : read.records.filter((r) => batchViewOf(r) === status);
  const page = matching.slice(offset, offset + limit);
  const collating: readonly string[] = COLLATING_BATCH_STATES;
  const data = await Promise.all(
    page.map(async (record) =>
      adminBatch(record, collating.includes(record.state) ? await store.batches.lineCount(record._id) : 0),
    ),
  );
  return { object: "list", status, data, offset, limit, total: matching.length, counts: read.counts };
}

/** The deployment-wide figures: batches by view, the collate backlog per model, cache hits, held callers. */
export async function overview(
  sources: FigureSources,
  counts: Record<BatchFilter, number>,
): Promise<AdminOverview> {
  const { redis, keys } = sources;
  const [models, counters, held] = await Promise.all([
    collateBacklog(redis, sources.prefix),
    redis.hgetall(keys.counters),
    redis.hgetall(keys.heldCallers),
  ]);
  const hits = Number(counters.cache_hits ?? 0);
  const misses = Number(counters.cache_misses ?? 0);
  const now = Date.now();
  const gateways: AdminOverview["heldCallers"]["gateways"] = [];
  const stale: string[] = [];
  for (const [id, value] of Object.entries(held)) {
    const [count, at] = value.split(" ").map(Number);
    if (!at || now - at > REPORT_STALE_MS) stale.push(id);
    else gateways.push({ id, held: count ?? 0, at: new Date(at).toISOString() });
  }
  // A gateway that died without withdrawing its report: its entry is dropped by whoever reads it.
  if (stale.length) await redis.hdel(keys.heldCallers, ...stale).catch(() => {});
  return {
    at: new Date(now).toISOString(),
    batches: counts,
    queue: { total: models.reduce((n, m) => n + m.waiting + m.held + m.delayed, 0), models },
    cache: { hits, misses, hitRate: hits + misses ? hits / (hits + misses) : null },
    heldCallers: { total: gateways.reduce((n, g) => n + g.held, 0), gateways },
  };
}
