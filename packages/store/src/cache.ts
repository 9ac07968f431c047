import type { CacheEntry } from "@batch-gpt/contracts";
import { type Collections, isDuplicateKey } from "./mongo.ts";

/**
 * Successful answers by request key. Expiry is a read-time condition on the entry's age (FerretDB v1
 * has no TTL indexes), so changing CACHE_TTL_SECONDS applies to entries already stored.
 */
export class CacheStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  async get(key: string, ttlSeconds?: number, now = Date.now()): Promise<CacheEntry | null> {
    const hit = await this.#c.cache.findOne({ _id: key });
    if (!hit) return null;
    if (ttlSeconds !== undefined && hit.createdAt.getTime() + ttlSeconds * 1000 <= now) return null;
    return hit;
  }

  /**
   * Latest answer wins. Insert first: on FerretDB v1 every update or upsert scans the whole collection,
   * an insert does not; only an entry that already exists (a no-cache repeat) pays for the replace.
   */
  async put(entry: CacheEntry): Promise<void> {
    try {
      await this.#c.cache.insertOne(entry);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      await this.#c.cache.replaceOne({ _id: entry._id }, entry);
    }
  }
}
