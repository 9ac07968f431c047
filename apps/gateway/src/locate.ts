import { collateQueue } from "@batch-gpt/contracts";
import type { QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";

/**
 * Where a request is: "queued" (its first attempt's job is in the queue), "recorded" (the store has
 * it: from then on it cannot get lost), or "nowhere" (lost: it will never be answered).
 */
export type Whereabouts = "queued" | "recorded" | "nowhere";
export type Locate = (requestId: string) => Promise<Whereabouts>;

/**
 * Looks in Redis first (the job), then in the store (the record). The job is checked first because
 * the collator writes the record before it removes the job. A held dedup key proves nothing: a gateway
 * that died between claiming a key and queueing its job leaves a key with no request behind it.
 */
export function locator(queues: QueueRegistry, store: Store): Locate {
  const collate = queues.producer(collateQueue);
  return async (requestId) => {
    const state = await collate.state({ requestId, attempt: 0 });
    if (state !== "unknown") return "queued";
    return (await store.requests.existing([requestId])).has(requestId) ? "recorded" : "nowhere";
  };
}

/** `Locate` for many requests at once: their jobs, then one store query per 500 for those without one. */
export type LocateMany = (requestIds: string[]) => Promise<Map<string, Whereabouts>>;

/**
 * What held callers' periodic re-check uses: every caller held past the grace asks at the same moment,
 * and one query for all of them replaces one each (on FerretDB v1, each a scan of the requests).
 */
export function manyLocator(queues: QueueRegistry, store: Store): LocateMany {
  const collate = queues.producer(collateQueue);
  return async (requestIds) => {
    const states = await Promise.all(requestIds.map((requestId) => collate.state({ requestId, attempt: 0 })));
    const where = new Map<string, Whereabouts>();
    const unqueued: string[] = [];
    requestIds.forEach((id, i) => {
      if (states[i] === "unknown") unqueued.push(id);
      else where.set(id, "queued");
    });
    const recorded = unqueued.length > 0 ? await store.requests.existing(unqueued) : new Set<string>();
    for (const id of unqueued) where.set(id, recorded.has(id) ? "recorded" : "nowhere");
    return where;
  };
}
