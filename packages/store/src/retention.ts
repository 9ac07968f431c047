import { fenceIds, type StoredAnswer } from "@batch-gpt/contracts";
import type { Filter, IndexDescription } from "mongodb";
import { LargeTexts, type TextRef } from "./large-text.ts";
import type { Collections, OutcomeRecord } from "./mongo.ts";

/** Documents handled per query: every query but a lookup by `_id` scans a collection on FerretDB v1. */
export const RETENTION_PAGE = 500;

/** What one step removed that Redis may still hold a copy of (the caller drops those copies). */
export interface Removed {
  /** Requests whose answer was replaced: their `answer:<id>` copy. */
  answers: string[];
  /** Cache keys whose entry was deleted: their `cache:<key>` tier entry and `cached:<key>` marker. */
  cacheKeys: string[];
  /** Async calls deleted: their `call:<id>` copy. */
  calls: string[];
}

/** How many documents one step handled; `more` when it stopped at its page (call it again). */
export interface Page {
  count: number;
  more: boolean;
  removed: Removed;
}

/** What an erase did, before the Redis copies are dropped. */
export interface Erasure {
  requests: number;
  pending: number;
  cacheEntries: number;
  calls: number;
}

const none = (): Removed => ({ answers: [], cacheKeys: [], calls: [] });

/**
 * The indexes the retention sweep and the tenant erase query by on MongoDB (on FerretDB v1 every such
 * query scans the collection anyway, a page at a time). Named, so creating them again is a no-op.
 */
export const RETENTION_INDEXES: { [C in keyof Collections]?: (IndexDescription & { name: string })[] } = {
  answers: [
    // `bodyErasedAt: null` matches "not yet" and sits first, so done entries are never read again.
    { key: { bodyErasedAt: 1, at: 1 }, name: "retention_body" },
    { key: { answerErasedAt: 1, at: 1 }, name: "retention_answer" },
  ],
  batches: [{ key: { state: 1, updatedAt: 1 }, name: "retention_state_updatedAt" }],
  batchLines: [{ key: { recordId: 1 }, name: "recordId" }],
  calls: [
    { key: { createdAt: 1, _id: 1 }, name: "retention_createdAt" },
    { key: { owner: 1, _id: 1 }, name: "owner" },
  ],
  cache: [
    { key: { createdAt: 1 }, name: "createdAt" },
    { key: { owner: 1, _id: 1 }, name: "owner" },
  ],
  requests: [{ key: { owner: 1, _id: 1 }, name: "owner" }],
};

/**
 * Retention and erasure over the store: blanking finished requests' bodies, replacing their answers,
 * deleting terminal batch records, finished requests' async calls and expired cache entries, a page at
 * a time, and erasing one request's or one tenant's prompts and answers. Never touches an unfinished
 * request (one without an outcome) or a batch record that is not `done`. Every step can be repeated:
 * what is done is marked (`bodyErasedAt`, `answerErasedAt`) or gone, so a crash mid-way only leaves
 * work for the next pass.
 */
export class Retention {
  readonly #c: Collections;
  readonly #texts: LargeTexts;

  constructor(collections: Collections) {
    this.#c = collections;
    this.#texts = new LargeTexts(collections);
  }

  /** Creates the indexes of `RETENTION_INDEXES` (idempotent). */
  async ensureIndexes(): Promise<void> {
    for (const [name, indexes] of Object.entries(RETENTION_INDEXES)) {
      // One index per command: FerretDB 1.24 panics on a command listing several that exist already.
      for (const index of indexes) await this.#c[name as keyof Collections].createIndexes([index]);
    }
  }

  /** Blanks the body of requests that finished before `before` (their record and outcome stay). */
  async blankBodies(before: Date, limit = RETENTION_PAGE): Promise<Page> {
    const ids = await this.#notYet("bodyErasedAt", before, limit);
    if (ids.length > 0) await this.#blank(ids, new Date());
    return { count: ids.length, more: ids.length === limit, removed: none() };
  }

  /** Replaces the answer of requests that finished before `before` with `answer` (an error body). */
  async replaceAnswers(before: Date, answer: StoredAnswer, limit = RETENTION_PAGE): Promise<Page> {
    const ids = await this.#notYet("answerErasedAt", before, limit);
    if (ids.length > 0) await this.#replace(ids, answer, new Date());
    return { count: ids.length, more: ids.length === limit, removed: { ...none(), answers: ids } };
  }

  /** Deletes `done` batch records last written before `before`, with their line manifests and fences. */
  async deleteBatches(before: Date, limit = RETENTION_PAGE): Promise<Page> {
    const records = await this.#c.batches
      .find({ state: "done", updatedAt: { $lt: before } }, { projection: { _id: 1, generation: 1 }, limit })
      .toArray();
    if (records.length > 0) {
      const ids = records.map((r) => r._id);
      // Manifests first: a record left without its manifest is still a whole `done` record.
      await this.#c.batchLines.deleteMany({ recordId: { $in: ids } });
      const fences = records.flatMap((r) =>
        Array.from({ length: (r.generation ?? 0) + 1 }, (_, n) => [
          fenceIds.creating(r._id, n),
          fenceIds.generation(r._id, n),
        ]).flat(),
      );
      await this.#c.recordFences.deleteMany({ _id: { $in: fences } });
      await this.#c.batches.deleteMany({ _id: { $in: ids }, state: "done" });
    }
    return { count: records.length, more: records.length === limit, removed: none() };
  }

  /**
   * Deletes async call records made before `before` whose request has finished (a caller may still be
   * waiting on an unfinished one). Pages by `_id` after `after`: the unfinished ones stay in the way.
   */
  async deleteCalls(
    before: Date,
    after: string | null,
    limit = RETENTION_PAGE,
  ): Promise<Page & { last: string | null }> {
    const filter = { createdAt: { $lt: before }, ...(after === null ? {} : { _id: { $gt: after } }) };
    const calls = await this.#c.calls
      .find(filter, { projection: { _id: 1, requestId: 1 }, sort: { _id: 1 }, limit })
      .toArray();
    const finished = await this.#finished(calls.map((c) => c.requestId));
    const ids = calls.filter((c) => finished.has(c.requestId)).map((c) => c._id);
    if (ids.length > 0) await this.#c.calls.deleteMany({ _id: { $in: ids } });
    return {
      count: ids.length,
      more: calls.length === limit,
      last: calls.at(-1)?._id ?? after,
      removed: { ...none(), calls: ids },
    };
  }

  /** Deletes cache entries stored before `before` (older than CACHE_TTL_SECONDS: they answer no one). */
  async deleteCache(before: Date, limit = RETENTION_PAGE): Promise<Page> {
    const entries = await this.#c.cache
      .find({ createdAt: { $lt: before } }, { projection: { _id: 1, bodyRef: 1 }, limit })
      .toArray();
    const keys = entries.map((e) => e._id);
    // The age again: an entry replaced by a fresh answer meanwhile stays (its own parts too).
    if (keys.length > 0) await this.#c.cache.deleteMany({ _id: { $in: keys }, createdAt: { $lt: before } });
    await this.#drop(entries.map((e) => e.bodyRef));
    return { count: entries.length, more: entries.length === limit, removed: { ...none(), cacheKeys: keys } };
  }

  /**
   * Erases one request's prompt and answer: its body blanked, its answer replaced by `answer`, the
   * cache entry of its key deleted (it holds the answer to that prompt, whichever tenant's request
   * stored it). Null when the store knows no such request; `pending: 1` (nothing erased) while it is
   * unfinished.
   */
  async eraseRequest(id: string, answer: StoredAnswer): Promise<(Erasure & { removed: Removed }) | null> {
    const [request, outcome] = await Promise.all([
      this.#c.requests.findOne({ _id: id }, { projection: { _id: 1, key: 1 } }),
      this.#c.answers.findOne({ _id: id }, { projection: { _id: 1 } }),
    ]);
    if (!request && !outcome) return null;
    if (!outcome) return { requests: 0, pending: 1, cacheEntries: 0, calls: 0, removed: none() };
    const now = new Date();
    await this.#blank([id], now);
    await this.#replace([id], answer, now);
    const cacheKeys = request ? [request.key] : [];
    const cacheEntries = await this.#deleteCacheKeys(cacheKeys);
    return {
      requests: 1,
      pending: 0,
      cacheEntries,
      calls: 0,
      removed: { ...none(), answers: [id], cacheKeys },
    };
  }

  /**
   * Erases everything of one tenant: its finished requests' bodies and answers (and the cache entries
   * of their keys), every cache entry it stored, and its async call records. Unfinished requests are
   * left as they are and counted. `onPage` is given what each page removed, for the Redis copies.
   */
  async eraseTenant(
    tenant: string,
    answer: StoredAnswer,
    onPage: (removed: Removed) => Promise<void>,
  ): Promise<Erasure> {
    const result: Erasure = { requests: 0, pending: 0, cacheEntries: 0, calls: 0 };
    const now = new Date();
    for (let after: string | null = null; ; ) {
      const page: { _id: string; key: string }[] = await this.#c.requests
        .find(
          { owner: tenant, ...(after === null ? {} : { _id: { $gt: after } }) },
          { projection: { _id: 1, key: 1 }, sort: { _id: 1 }, limit: RETENTION_PAGE },
        )
        .toArray();
      if (page.length === 0) break;
      after = page.at(-1)!._id;
      const finished = await this.#finished(page.map((r) => r._id));
      const done = page.filter((r) => finished.has(r._id));
      result.pending += page.length - done.length;
      if (done.length > 0) {
        const ids = done.map((r) => r._id);
        await this.#blank(ids, now);
        await this.#replace(ids, answer, now);
        const cacheKeys = [...new Set(done.map((r) => r.key))];
        result.requests += ids.length;
        result.cacheEntries += await this.#deleteCacheKeys(cacheKeys);
        await onPage({ ...none(), answers: ids, cacheKeys });
      }
      if (page.length < RETENTION_PAGE) break;
    }
    // Entries it stored under keys of requests erased before, or of requests not recorded as its own.
    for (;;) {
      const entries = await this.#c.cache
        .find({ owner: tenant }, { projection: { _id: 1, bodyRef: 1 }, limit: RETENTION_PAGE })
        .toArray();
      if (entries.length === 0) break;
      const keys = entries.map((e) => e._id);
      await this.#c.cache.deleteMany({ _id: { $in: keys }, owner: tenant });
      await this.#drop(entries.map((e) => e.bodyRef));
      result.cacheEntries += entries.length;
      await onPage({ ...none(), cacheKeys: keys });
      if (entries.length < RETENTION_PAGE) break;
    }
    for (;;) {
      const calls = await this.#c.calls
        .find({ owner: tenant }, { projection: { _id: 1 }, limit: RETENTION_PAGE })
        .toArray();
      if (calls.length === 0) break;
      const ids = calls.map((c) => c._id);
      await this.#c.calls.deleteMany({ _id: { $in: ids } });
      result.calls += ids.length;
      await onPage({ ...none(), calls: ids });
      if (calls.length < RETENTION_PAGE) break;
    }
    return result;
  }

  /** Outcomes stored before `before` not marked `mark` yet (`null` matches an absent field, indexed). */
  async #notYet(mark: "bodyErasedAt" | "answerErasedAt", before: Date, limit: number): Promise<string[]> {
    const filter = { [mark]: null, at: { $lt: before } } as Filter<OutcomeRecord>;
    const docs = await this.#c.answers.find(filter, { projection: { _id: 1 }, limit }).toArray();
    return docs.map((d) => d._id);
  }

  /** The ids among `requestIds` that have an outcome (finished), in one query per page. */
  async #finished(requestIds: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unique = [...new Set(requestIds)];
    for (let i = 0; i < unique.length; i += RETENTION_PAGE) {
      const docs = await this.#c.answers
        .find({ _id: { $in: unique.slice(i, i + RETENTION_PAGE) } }, { projection: { _id: 1 } })
        .toArray();
      for (const doc of docs) found.add(doc._id);
    }
    return found;
  }

  /** Blanks the bodies of finished requests `ids`, then marks their outcomes (the sweep's bookmark). */
  async #blank(ids: string[], now: Date): Promise<void> {
    await this.#c.requests.updateMany({ _id: { $in: ids } }, { $set: { body: "", bodyErasedAt: now } });
    await this.#c.answers.updateMany({ _id: { $in: ids } }, { $set: { bodyErasedAt: now } });
  }

  /**
   * Replaces the answers of `ids`. The outcome is rewritten before its parts are dropped: a crash in
   * between leaves parts nothing points at, never an outcome pointing at missing parts.
   */
  async #replace(ids: string[], answer: StoredAnswer, now: Date): Promise<void> {
    const large = await this.#c.answers
      .find(
        { _id: { $in: ids }, "answer.bodyRef": { $exists: true } },
        { projection: { _id: 1, "answer.bodyRef": 1 } },
      )
      .toArray();
    await this.#c.answers.updateMany({ _id: { $in: ids } }, { $set: { answer, answerErasedAt: now } });
    await this.#drop(large.map((doc) => doc.answer?.bodyRef));
  }

  /** Deletes the cache entries of `keys` (with their parts); how many there were. */
  async #deleteCacheKeys(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const entries = await this.#c.cache
      .find({ _id: { $in: keys } }, { projection: { _id: 1, bodyRef: 1 } })
      .toArray();
    if (entries.length === 0) return 0;
    await this.#c.cache.deleteMany({ _id: { $in: entries.map((e) => e._id) } });
    await this.#drop(entries.map((e) => e.bodyRef));
    return entries.length;
  }

  async #drop(refs: (TextRef | undefined)[]): Promise<void> {
    for (const ref of refs) if (ref) await this.#texts.drop(ref);
  }
}
