import { collateQueue } from "@batch-gpt/contracts";
import type { QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";

/** Whether a request exists nowhere any more (it will never be answered). */
export type LostCheck = (requestId: string) => Promise<boolean>;

/**
 * True when a request exists nowhere: no job for its first attempt in the queue and no record in the
 * store. The job is checked first because the collator writes the record before it removes the job.
 */
export function lostCheck(queues: QueueRegistry, store: Store): LostCheck {
  const collate = queues.producer(collateQueue);
  return async (requestId) => {
    const state = await collate.state({ requestId, attempt: 0 });
    if (state !== "unknown") return false;
    return (await store.requests.get(requestId)) === null;
  };
}
