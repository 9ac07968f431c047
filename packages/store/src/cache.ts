import type { CacheEntry } from "@batch-gpt/contracts";
import { assertFits, DocumentTooLarge } from "./documents.ts";
import { LargeTexts } from "./large-text.ts";
import { type CacheRecord, type Collections, writeErrors } from "./mongo.ts";

/**
 * Successful answers by request key. Expiry is a read-time condition on the entry's age (FerretDB v1
 * has no TTL indexes), so changing CACHE_TTL_SECONDS applies to entries already stored. A body too
 * large for its document is kept in parts (`LargeTexts`).
 */
export class CacheStore {
  readonly #c: Collections;
  readonly #texts: LargeTexts;

  constructor(collections: Collections) {
    this.#c = collections;
    this.#texts = new LargeTexts(collections);
  }

  async get(key: string, ttlSeconds?: number, now = Date.now()): Promise<CacheEntry | null> {
    const hit = await this.#c.cache.findOne({ _id: key });
    if (!hit) return null;
    if (ttlSeconds !== undefined && hit.createdAt.getTime() + ttlSeconds * 1000 <= now) return null;
    const { bodyRef, ...entry } = hit;
    return bodyRef ? { ...entry, body: await this.#texts.get(bodyRef) } : entry;
  }

  /** The entries among `keys` stored at or after `from`, in one query per 500 (bodies kept whole). */
  async getMany(keys: string[], from: Map<string, number>): Promise<CacheEntry[]> {
    const found: CacheEntry[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const hits = await this.#c.cache.find({ _id: { $in: keys.slice(i, i + 500) } }).toArray();
      for (const { bodyRef, ...entry } of hits) {
        if (entry.createdAt.getTime() < (from.get(entry._id) ?? Number.POSITIVE_INFINITY)) continue;
        found.push(bodyRef ? { ...entry, body: await this.#texts.get(bodyRef) } : entry);
      }
    }
    return found;
  }

  /** When the oldest entry was stored (null when there is none). */
  async oldestAt(): Promise<Date | null> {
    const oldest = await this.#c.cache.findOne({}, { sort: { createdAt: 1 }, projection: { createdAt: 1 } });
    return oldest?.createdAt ?? null;
  }

  /** `putMany` of one entry. */
  async put(entry: CacheEntry): Promise<boolean> {
    return (await this.putMany([entry])).size === 0;
  }

  /**
   * Many entries in a few commands; an entry that exists already is replaced (latest answer wins).
   * Insert first: on FerretDB v1 every update or upsert scans the whole collection, an insert does not;
   * only an entry that already exists (a no-cache repeat) pays for the replace. Returns the keys of the
   * entries that could not be stored (over MongoDB's limit, refused by the server): they are not cached,
   * and the others are.
   */
  async putMany(entries: CacheEntry[]): Promise<Set<string>> {
    const refused = new Set<string>();
    for (let i = 0; i < entries.length; i += 500) {
      const docs: CacheRecord[] = [];
      for (const entry of entries.slice(i, i + 500)) {
        const doc = await this.#storable(entry);
        try {
          assertFits(doc);
          docs.push(doc);
        } catch (error) {
          if (!(error instanceof DocumentTooLarge)) throw error;
          refused.add(doc._id);
          await this.#dropText(doc);
        }
      }
      if (docs.length === 0) continue;
      try {
        await this.#c.cache.insertMany(docs, { ordered: false });
      } catch (error) {
        const failed = writeErrors(error, docs.length);
        if (!failed) throw error;
        for (const [index, e] of failed) {
          const doc = docs[index]!;
          if (e.code !== 11000) {
            refused.add(doc._id);
            await this.#dropText(doc);
            continue;
          }
          const before = await this.#c.cache.findOneAndReplace({ _id: doc._id }, doc);
          if (before) await this.#dropText(before);
        }
      }
    }
    return refused;
  }

  async #storable(entry: CacheEntry): Promise<CacheRecord> {
    if (!LargeTexts.needed(entry.body)) return entry;
    return { ...entry, body: "", bodyRef: await this.#texts.put(`cache:${entry._id}`, entry.body) };
  }

  async #dropText(doc: CacheRecord): Promise<void> {
    if (doc.bodyRef) await this.#texts.drop(doc.bodyRef);
  }
}
