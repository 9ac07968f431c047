import type { CacheEntry } from "@batch-gpt/contracts";
import { type Collections, duplicateKeyIndexes, isDuplicateKey } from "./mongo.ts";

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

  /** Many entries in a few commands; an entry that exists already is replaced (latest answer wins). */
  async putMany(entries: CacheEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += 500) {
      const chunk = entries.slice(i, i + 500);
      try {
        await this.#c.cache.insertMany(chunk, { ordered: false });
      } catch (error) {
        const duplicates = duplicateKeyIndexes(error, chunk.length);
        if (!duplicates) throw error;
        for (const index of duplicates) {
          const entry = chunk[index]!;
          await this.#c.cache.replaceOne({ _id: entry._id }, entry);
        }
      }
    }
  }
}
