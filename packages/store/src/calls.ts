import type { CallDoc } from "@batch-gpt/contracts";
import type { Collections } from "./mongo.ts";

/** Async calls: the id a caller holds, pointing at the request that answers it. */
export class CallStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  async insert(call: CallDoc): Promise<void> {
    await this.#c.calls.insertOne(call);
  }

  get(id: string): Promise<CallDoc | null> {
    return this.#c.calls.findOne({ _id: id });
  }
}
