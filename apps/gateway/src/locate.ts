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
    return (await store.requests.exists(requestId)) ? "recorded" : "nowhere";
  };
}
