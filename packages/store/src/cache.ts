import type { CacheRecord } from "@batch-gpt/contracts";
import type { Collections } from "./mongo.ts";

/** Successful answers by request key. Expiry is checked on read (FerretDB v1 has no TTL indexes). */
export class CacheStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  async get(key: string, now = new Date()): Promise<CacheRecord | null> {
    const hit = await this.#c.cache.findOne({ _id: key });
    if (!hit || (hit.expiresAt && hit.expiresAt <= now)) return null;
    return hit;
  }

  async put(record: CacheRecord): Promise<void> {
    await this.#c.cache.replaceOne({ _id: record._id }, record, { upsert: true });
  }
}
