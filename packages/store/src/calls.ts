import type { CallDoc } from "@batch-gpt/contracts";
import { type Collections, duplicateKeyIndexes } from "./mongo.ts";

/** Async calls: the id a caller holds, pointing at the request that answers it. */
export class CallStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  async insert(call: CallDoc): Promise<void> {
    await this.#c.calls.insertOne(call);
  }

  /** Many at once; a call already written (a retried flush) stays as it is. */
  async insertMany(calls: CallDoc[]): Promise<void> {
    if (calls.length === 0) return;
    await this.#c.calls.insertMany(calls, { ordered: false }).catch((error: unknown) => {
      if (!duplicateKeyIndexes(error, calls.length)) throw error;
    });
  }

  get(id: string): Promise<CallDoc | null> {
    return this.#c.calls.findOne({ _id: id });
  }
}
