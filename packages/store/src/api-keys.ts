import type { ApiKeyDoc } from "@batch-gpt/contracts";
import type { Collections } from "./mongo.ts";

/**
 * Gateway keys made with the operator API. The collection is small and read whole: gateways keep it in
 * memory and reload it when Redis's keys version moves, never per request.
 */
export class ApiKeyStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  async insert(key: ApiKeyDoc): Promise<void> {
    await this.#c.apiKeys.insertOne(key);
  }

  /** Every key, revoked ones included (an operator lists them; gateways skip them). */
  list(): Promise<ApiKeyDoc[]> {
    return this.#c.apiKeys.find({}).sort({ createdAt: 1 }).toArray();
  }

  /** Marks the key revoked; false when there is no such key. Revoking twice keeps the first time. */
  async revoke(id: string, at: Date): Promise<ApiKeyDoc | null> {
    const key = await this.#c.apiKeys.findOne({ _id: id });
    if (!key) return null;
    if (key.revokedAt) return key;
    await this.#c.apiKeys.updateOne({ _id: id }, { $set: { revokedAt: at } });
    return { ...key, revokedAt: at };
  }
}
