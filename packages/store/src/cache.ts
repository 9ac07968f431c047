import type { CacheEntry } from "@batch-gpt/contracts";
import { assertFits, DocumentTooLarge, surelyFits } from "./documents.ts";
import { LargeTexts } from "./large-text.ts";
import { type CacheRecord, type Collections, META, writeErrors } from "./mongo.ts";

/**
 * The mark `oldestAt` writes from a scan leaves this much for an entry whose write was under way as the
 * scan ran (`putMany` moves an existing mark back before it inserts, but cannot move one not written
 * yet): a mark too early only makes the collator look in MongoDB's cache a little sooner than it had to.
 */
const MARK_MARGIN_MS = 60_000;

/**
 * A cache entry to store. With `answerOf` (the request whose stored outcome is this answer), the entry
 * points at that outcome instead of copying its body; `body` is still the answer (checked for nothing,
 * kept for callers that store without a request).
 */
export type NewCacheEntry = CacheEntry & { answerOf?: string };

/**
 * A cache entry as read back: an entry pointing at an outcome is stored without its `endpoint` and
 * `model` (see `CacheRecord`), so they may be absent.
 */
export type CachedEntry = Omit<CacheEntry, "endpoint" | "model"> &
  Partial<Pick<CacheEntry, "endpoint" | "model">>;

/**
 * Successful answers by request key. Expiry is a read-time condition on the entry's age (FerretDB v1
 * has no TTL indexes), so changing CACHE_TTL_SECONDS applies to entries already stored. A body too
 * large for its document is kept in parts (`LargeTexts`).
 */
export class CacheStore {
  readonly #c: Collections;
  readonly #texts: LargeTexts;
  /** This process has made sure the `META.cacheOldest` mark is no later than this (epoch ms). */
  #markedBy = Number.POSITIVE_INFINITY;

  constructor(collections: Collections) {
    this.#c = collections;
    this.#texts = new LargeTexts(collections);
  }

  async get(key: string, ttlSeconds?: number, now = Date.now()): Promise<CachedEntry | null> {
    const hit = await this.#c.cache.findOne({ _id: key });
    if (!hit) return null;
    if (ttlSeconds !== undefined && hit.createdAt.getTime() + ttlSeconds * 1000 <= now) return null;
    return (await this.#withBodies([hit]))[0] ?? null;
  }

  /** The entries among `keys` stored at or after `from`, in one query per 500 (bodies kept whole). */
  async getMany(keys: string[], from: Map<string, number>): Promise<CachedEntry[]> {
    const found: CachedEntry[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const hits = await this.#c.cache.find({ _id: { $in: keys.slice(i, i + 500) } }).toArray();
      const fresh = hits.filter(
        (hit) => hit.createdAt.getTime() >= (from.get(hit._id) ?? Number.POSITIVE_INFINITY),
      );
      found.push(...(await this.#withBodies(fresh)));
    }
    return found;
  }

  /**
   * Entries with their bodies: their own, in parts, or the outcome of the request they point at (read
   * together, by `_id`). An entry whose outcome is gone or no longer a success (erased, expired under
   * RETAIN_ANSWERS_DAYS) answers no one: left out.
   */
  async #withBodies(hits: CacheRecord[]): Promise<CachedEntry[]> {
    const pointing = hits.flatMap((hit) => (hit.answerOf ? [hit.answerOf] : []));
    const outcomes = new Map(
      pointing.length === 0
        ? []
        : (await this.#c.answers.find({ _id: { $in: pointing } }).toArray()).map((o) => [o._id, o]),
    );
    const entries: CachedEntry[] = [];
    for (const { bodyRef, answerOf, ...entry } of hits) {
      if (answerOf) {
        const outcome = outcomes.get(answerOf);
        if (outcome?.state !== "succeeded") continue;
        const { body, bodyRef: partsRef } = outcome.answer;
        entries.push({ ...entry, body: partsRef ? await this.#texts.get(partsRef) : body });
      } else {
        entries.push(bodyRef ? { ...entry, body: await this.#texts.get(bodyRef) } : entry);
      }
    }
    return entries;
  }

  /**
   * A moment no cache entry is older than (null: the cache was empty and no mark is kept yet). Kept as
   * a mark in `meta` (`META.cacheOldest`), which `putMany` moves back for an entry older than it;
   * finding the oldest entry instead scans and sorts the whole cache on FerretDB v1 (22 s with 200,000
   * entries as the apps started, its tail overlapping the first burst). Without the mark (a cache an
   * older version filled, or none yet) the entry is found once and the mark written: `putMany` never
   * creates the mark, as it cannot know what an older version left.
   */
  async oldestAt(): Promise<Date | null> {
    const mark = await this.#c.meta.findOne({ _id: META.cacheOldest });
    if (mark) return mark.at;
    const scanned = Date.now();
    const oldest = await this.#c.cache.findOne({}, { sort: { createdAt: 1 }, projection: { createdAt: 1 } });
    const bound = Math.min(oldest?.createdAt.getTime() ?? Number.POSITIVE_INFINITY, scanned - MARK_MARGIN_MS);
    await this.#c.meta.updateOne(
      { _id: META.cacheOldest },
      { $min: { at: new Date(bound) } },
      { upsert: true },
    );
    this.#markedBy = Math.min(this.#markedBy, bound);
    return oldest?.createdAt ?? null;
  }

  /** Moves the mark back to `at` when it is later (never creates it: see `oldestAt`). */
  async #markOldest(at: number): Promise<void> {
    if (at >= this.#markedBy) return;
    await this.#c.meta.updateOne({ _id: META.cacheOldest }, { $min: { at: new Date(at) } });
    this.#markedBy = at;
  }

  /** `putMany` of one entry. */
  async put(entry: NewCacheEntry): Promise<boolean> {
    return (await this.putMany([entry])).size === 0;
  }

  /**
   * Many entries in a few commands; an entry that exists already is replaced (latest answer wins).
   * Insert first: on FerretDB v1 every update or upsert scans the whole collection, an insert does not;
   * only an entry that already exists (a no-cache repeat) pays for the replace. Returns the keys of the
   * entries that could not be stored (over MongoDB's limit, refused by the server): they are not cached,
   * and the others are.
   */
  async putMany(entries: NewCacheEntry[]): Promise<Set<string>> {
    const refused = new Set<string>();
    for (let i = 0; i < entries.length; i += 500) {
      const docs: CacheRecord[] = [];
      for (const entry of entries.slice(i, i + 500)) {
        const doc = await this.#storable(entry);
        try {
          if (!surelyFits(doc._id, doc.endpoint, doc.model, doc.owner, doc.body, doc.answerOf))
            assertFits(doc);
          docs.push(doc);
        } catch (error) {
          if (!(error instanceof DocumentTooLarge)) throw error;
          refused.add(doc._id);
          await this.#dropText(doc);
        }
      }
      if (docs.length === 0) continue;
      // Before the entries are there: a reader of the mark must never find an entry older than it.
      await this.#markOldest(Math.min(...docs.map((d) => new Date(d.createdAt).getTime())));
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

  async #storable({ answerOf, ...entry }: NewCacheEntry): Promise<CacheRecord> {
    // The answer is stored already, as the outcome of `answerOf`: point at it rather than copy it.
    // Only the fields something reads: the tenant (its erasure), the age (expiry) and the pointer.
    if (answerOf)
      return { _id: entry._id, owner: entry.owner, body: "", answerOf, createdAt: entry.createdAt };
    if (!LargeTexts.needed(entry.body)) return entry;
    return { ...entry, body: "", bodyRef: await this.#texts.put(`cache:${entry._id}`, entry.body) };
  }

  async #dropText(doc: CacheRecord): Promise<void> {
    if (doc.bodyRef) await this.#texts.drop(doc.bodyRef);
  }
}
