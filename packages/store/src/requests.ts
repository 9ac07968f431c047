import {
  type CollateJob,
  deriveRequestState,
  fenceIds,
  lineId,
  type OutcomeDoc,
  type RequestDoc,
  type RequestView,
  type StoredAnswer,
  type TerminalRequestState,
} from "@batch-gpt/contracts";
import { chunked, eachInFlight } from "./bulk.ts";
import { assertFits, DocumentTooLarge, surelyFits } from "./documents.ts";
import { LargeTexts } from "./large-text.ts";
import { type Collections, type OutcomeRecord, writeErrors } from "./mongo.ts";

/** What became of outcomes written at once. */
export interface FinishResult {
  /** Already recorded (the first outcome stands: its callers may have been told). */
  existing: Set<string>;
  /** Refused for a reason of their own (too large, refused by the server), with the reason. */
  refused: Map<string, string>;
}

/**
 * Requests by id. Every read is exactly `{_id}` (the only lookup FerretDB v1 serves without a scan),
 * and nothing on the hot path updates in place (FerretDB v1 scans the whole collection on every
 * update): a request is inserted once, its batch is its line fence, its outcome an inserted document.
 */
export class RequestStore {
  readonly #c: Collections;
  readonly #texts: LargeTexts;

  constructor(collections: Collections) {
    this.#c = collections;
    this.#texts = new LargeTexts(collections);
  }

  /**
   * The request with its derived state, or null when it was never recorded. `known` passes its
   * outcome when the caller already read it in bulk (`outcomes`), sparing a lookup that, for a pending
   * request, misses (and a miss scans the collection on FerretDB v1).
   */
  async get(id: string, known?: { outcome: OutcomeDoc | null }): Promise<RequestView | null> {
    const doc = await this.#c.requests.findOne({ _id: id });
    if (!doc) return null;
    const [outcome, fence] = await Promise.all([
      known ? known.outcome : this.outcome(id),
      this.#c.fences.findOne({ _id: fenceIds.line(lineId(id, doc.attempt)) }),
    ]);
    const batchId = fence?.holder ?? null;
    // The batch record is read only when its state decides (a pending request placed in a batch).
    const batch =
      !outcome && batchId
        ? await this.#c.batches.findOne({ _id: batchId }, { projection: { state: 1 } })
        : null;
    const state = deriveRequestState({ outcome, batchId, batchState: batch?.state ?? null });
    return { ...doc, state, batchId, answer: outcome?.answer ?? null, usage: outcome?.usage ?? null };
  }

  /**
   * The bodies of the requests among `ids`, a query per 500 (a batch file rebuilt by recovery reads its
   * lines' bodies this way, not one by one: on FerretDB v1 every read scans the collection).
   */
  async bodies(ids: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for await (const doc of this.#byIds(ids, { body: 1 })) found.set(doc._id, doc.body);
    return found;
  }

  /** The requests among `ids` with `projection`'s fields only, a query per 500. */
  async *#byIds(ids: string[], projection: { _id?: 1; body?: 1 }): AsyncGenerator<RequestDoc> {
    for (let i = 0; i < ids.length; i += 500) {
      yield* this.#c.requests.find({ _id: { $in: ids.slice(i, i + 500) } }, { projection });
    }
  }

  /**
   * Like `get` for many requests, in a few queries whatever their number (requests, outcomes, line
   * fences, and the records of the batches still holding some): the poller's per-line path reads a
   * chunk of lines this way, not one by one (five scans per line on FerretDB v1).
   */
  async getMany(ids: string[]): Promise<Map<string, RequestView>> {
    const views = new Map<string, RequestView>();
    if (ids.length === 0) return views;
    const docs = await this.#c.requests.find({ _id: { $in: ids } }).toArray();
    if (docs.length === 0) return views;
    const found = docs.map((doc) => doc._id);
    const outcomes = new Map((await this.outcomes(found)).map((o) => [o._id, o]));
    const fenceOf = (doc: RequestDoc) => fenceIds.line(lineId(doc._id, doc.attempt));
    const fences = await this.#c.fences
      .find({ _id: { $in: docs.map(fenceOf) } }, { projection: { holder: 1 } })
      .toArray();
    const holders = new Map(fences.map((f) => [f._id, f.holder]));
    // A batch record's state decides only for a request still pending in it.
    const deciding = new Set(
      docs.filter((d) => !outcomes.has(d._id)).flatMap((d) => holders.get(fenceOf(d)) ?? []),
    );
    const batches = deciding.size
      ? await this.#c.batches.find({ _id: { $in: [...deciding] } }, { projection: { state: 1 } }).toArray()
      : [];
    const batchStates = new Map(batches.map((b) => [b._id, b.state]));
    for (const doc of docs) {
      const outcome = outcomes.get(doc._id) ?? null;
      const batchId = holders.get(fenceOf(doc)) ?? null;
      const batchState = !outcome && batchId ? (batchStates.get(batchId) ?? null) : null;
      const state = deriveRequestState({ outcome, batchId, batchState });
      views.set(doc._id, {
        ...doc,
        state,
        batchId,
        answer: outcome?.answer ?? null,
        usage: outcome?.usage ?? null,
      });
    }
    return views;
  }

  /**
   * Those of `ids` that were recorded: their `_id` alone, a query per 500 (`get` reads four collections,
   * and held callers ask this once they have waited a while, all of them at the same moment).
   */
  async existing(ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for await (const doc of this.#byIds(ids, { _id: 1 })) found.add(doc._id);
    return found;
  }

  /** Only the outcome: what a held caller needs, in one read (more only for a body kept in parts). */
  async outcome(id: string): Promise<OutcomeDoc | null> {
    const doc = await this.#c.answers.findOne({ _id: id });
    return doc && this.#whole(doc);
  }

  /** The outcomes among `ids` in one query (for re-checking many held requests at once). */
  async outcomes(ids: string[]): Promise<OutcomeDoc[]> {
    const docs = await this.#c.answers.find({ _id: { $in: ids } }).toArray();
    return Promise.all(docs.map((doc) => this.#whole(doc)));
  }

  async #whole(doc: OutcomeRecord): Promise<OutcomeDoc> {
    const { bodyRef, ...answer } = doc.answer;
    if (!bodyRef) return doc;
    return { ...doc, answer: { ...answer, body: await this.#texts.get(bodyRef) } };
  }

  /**
   * Writes the record of each job if it has none yet (a resubmitted request already has one). An
   * insert, not an upsert; a duplicate key means "already written" (a resubmission, or two collators
   * holding one request after a stalled job was handed on). Returns the requests refused for a reason of
   * their own (over MongoDB's document limit, refused by the server), with the reason: the others are
   * written all the same.
   */
  async ensure(jobs: CollateJob[]): Promise<Map<string, string>> {
    const refused = new Map<string, string>();
    const now = new Date();
    await eachInFlight(chunked(jobs, BULK_INSERT), async (chunk) => {
      const docs: RequestDoc[] = [];
      for (const job of chunk) {
        const doc: RequestDoc = {
          _id: job.requestId,
          owner: job.owner,
          provider: job.provider,
          endpoint: job.endpoint,
          model: job.model,
          body: job.body,
          key: job.key,
          traceId: job.traceId,
          attempt: job.attempt,
          createdAt: new Date(job.createdAt),
          updatedAt: now,
        };
        try {
          if (!surelyFits(job.body, job.owner, job.key, job.traceId, job.model, job.requestId))
            assertFits(doc);
          docs.push(doc);
        } catch (error) {
          if (!(error instanceof DocumentTooLarge)) throw error;
          refused.set(doc._id, error.message);
        }
      }
      if (docs.length === 0) return;
      await this.#c.requests.insertMany(docs, { ordered: false }).catch((error: unknown) => {
        const failed = writeErrors(error, docs.length);
        if (!failed) throw error;
        for (const [index, e] of failed) {
          if (e.code !== 11000) refused.set(docs[index]!._id, e.errmsg ?? `refused (code ${e.code})`);
        }
      });
    });
    return refused;
  }

  /**
   * Records the outcome once; a second call for the same request keeps the first (it was already told).
   * Returns why it was refused when it cannot be stored (see `finishMany`), else null.
   */
  async finish(
    id: string,
    state: TerminalRequestState,
    answer: StoredAnswer,
    usage: string | null,
  ): Promise<string | null> {
    const { refused } = await this.finishMany([{ _id: id, state, answer, usage }]);
    return refused.get(id) ?? null;
  }

  /**
   * Records many outcomes in a few commands. A body too large for its document goes to parts of its
   * own (`LargeTexts`); an outcome that still cannot be stored (over MongoDB's limit, refused by the
   * server) is refused alone and reported, never failing the others.
   */
  async finishMany(outcomes: Omit<OutcomeDoc, "at">[]): Promise<FinishResult> {
    const at = new Date();
    const existing = new Set<string>();
    const refused = new Map<string, string>();
    for (let i = 0; i < outcomes.length; i += BULK_INSERT) {
      const docs: OutcomeRecord[] = [];
      for (const outcome of outcomes.slice(i, i + BULK_INSERT)) {
        const doc = await this.#storable({ ...outcome, at });
        try {
          if (!surelyFits(doc._id, doc.state, doc.answer.body, doc.usage)) assertFits(doc);
          docs.push(doc);
        } catch (error) {
          if (!(error instanceof DocumentTooLarge)) throw error;
          refused.set(doc._id, error.message);
          await this.#dropText(doc);
        }
      }
      if (docs.length === 0) continue;
      try {
        await this.#c.answers.insertMany(docs, { ordered: false });
      } catch (error) {
        const failed = writeErrors(error, docs.length);
        if (!failed) throw error;
        for (const [index, e] of failed) {
          const doc = docs[index]!;
          if (e.code === 11000) existing.add(doc._id);
          else refused.set(doc._id, e.errmsg ?? `refused by the server (code ${e.code})`);
          await this.#dropText(doc);
        }
      }
    }
    return { existing, refused };
  }

  /** The outcome as stored: a body too large for its document is written in parts first. */
  async #storable(outcome: OutcomeDoc): Promise<OutcomeRecord> {
    if (!LargeTexts.needed(outcome.answer.body)) return outcome;
    const bodyRef = await this.#texts.put(`answer:${outcome._id}`, outcome.answer.body);
    return { ...outcome, answer: { statusCode: outcome.answer.statusCode, body: "", bodyRef } };
  }

  async #dropText(doc: OutcomeRecord): Promise<void> {
    if (doc.answer.bodyRef) await this.#texts.drop(doc.answer.bodyRef);
  }

  /**
   * Moves a request on to its next attempt. The one update in a request's life, and only for lines an
   * expired, cancelled or refused batch left unfinished; the collator that fences that attempt places it.
   */
  /**
   * `requeue` for many requests: one update per distinct (attempt, innocent) pair, usually one per
   * batch (on FerretDB v1 each update scans the collection, so one per request took minutes to settle
   * an expired batch of a few hundred lines under load).
   */
  async requeueMany(items: { id: string; attempt: number; innocent?: boolean }[]): Promise<void> {
    const groups = new Map<string, { attempt: number; innocent: boolean; ids: string[] }>();
    for (const { id, attempt, innocent = false } of items) {
      const group = `${attempt}:${innocent}`;
      const existing = groups.get(group) ?? { attempt, innocent, ids: [] };
      existing.ids.push(id);
      groups.set(group, existing);
    }
    for (const { attempt, innocent, ids } of groups.values()) {
      await this.#c.requests.updateMany(
        { _id: { $in: ids }, attempt: { $lt: attempt } },
        { $set: { attempt, updatedAt: new Date() }, ...(innocent ? { $inc: { innocentResubmits: 1 } } : {}) },
      );
    }
  }

  /** Never backwards: a repeated resubmission of an older attempt must not undo a newer one. */
  requeue(id: string, attempt: number, opts: { innocent?: boolean } = {}): Promise<void> {
    return this.requeueMany([{ id, attempt, innocent: opts.innocent === true }]);
  }
}

/**
 * Documents per insert command. Inserts of unique ids stay fast on FerretDB v1 in large commands
 * (35,000–43,000 documents/s in commands of 1,000, 12,000/s in commands of 16); it is updates that
 * hold a connection per statement until the command ends.
 */
const BULK_INSERT = 500;
