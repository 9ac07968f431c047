import {
  BATCH_TRANSITIONS,
  type BatchRecord,
  type BatchState,
  type BatchSummary,
  type BatchTransition,
  type BatchTransitionName,
  type BatchVerdict,
  COLLATING_BATCH_STATES,
  fenceIds,
} from "@batch-gpt/contracts";
import type { Filter, UpdateFilter } from "mongodb";
import { type Clock, hostClock } from "./clock.ts";
import type { Fences } from "./fences.ts";
import type { BatchRecordDoc, Collections } from "./mongo.ts";

export interface BatchListQuery {
  limit: number;
  /** Provider batch id to start after (OpenAI's cursor). */
  after?: string | undefined;
  /** "completed", "not_completed", or any provider status. */
  status?: string | undefined;
}

/**
 * Leaves out the line list (up to 50,000 ids per record) and the status history. The server still
 * reads whole documents (FerretDB v1 decodes every record of the collection for any query), but only
 * this much crosses the wire and is parsed.
 */
const SUMMARY_PROJECTION = { lines: 0, linesText: 0, lineCount: 0, history: 0 } as const;

/** The line list as stored (see `BatchRecordDoc`): one text on records written now, an array before. */
const LINES_PROJECTION = { lines: 1, linesText: 1 } as const;

function linesIn(doc: Pick<BatchRecordDoc, "lines" | "linesText">): string[] {
  return doc.lines ?? (doc.linesText ? (JSON.parse(doc.linesText) as string[]) : []);
}

/** A record as stored; one written already `done` (imports, fixtures) keeps its count only, as one finished. */
function toDoc({ lines, ...record }: BatchRecord): BatchRecordDoc {
  if (record.state === "done") return { ...record, lineCount: lines.length };
  return { ...record, linesText: JSON.stringify(lines), lineCount: lines.length };
}

/** A `done` record's lines are empty: its list was dropped when it finished (see `BatchRecordDoc`). */
function fromDoc({
  lines: _array,
  linesText: _text,
  lineCount: _count,
  ...record
}: BatchRecordDoc): BatchRecord {
  return { ...record, lines: linesIn({ lines: _array, linesText: _text }) };
}

/**
 * What a finishing transition removes: the line list, in either of its forms. Nothing reads a finished
 * record's lines (its line manifest keeps what settling needed), and on FerretDB v1 every read or
 * update of any record decoded every finished one's list: measured, 90–100 ms per read by `_id` with
 * 200 finished records of 1,000 lines, against 31 ms on an empty store.
 */
const DROP_LINES = { lines: "", linesText: "" } as const;

/** Finished records whose lines are counted, then dropped, per command (`dropFinishedLines`). */
const COUNT_PAGE = 50;

/** What `GET /v1/batches` shows of a record: the provider's Batch object and what it is sorted by. */
const LIST_PROJECTION = {
  _id: 1,
  providerBatchId: 1,
  providerBatch: 1,
  status: 1,
  providerCreatedAt: 1,
  createdAt: 1,
} as const;
export type ListedBatch = Pick<BatchRecord, keyof typeof LIST_PROJECTION>;

/** What recovery needs to judge and claim a record (its lines are read only once it takes one over). */
const CLAIM_PROJECTION = { _id: 1, state: 1, generation: 1, heartbeatAt: 1, createdAt: 1 } as const;
export type ClaimView = Pick<BatchRecord, keyof typeof CLAIM_PROJECTION>;

/** Records read per query by the sweeps: memory stays bounded however many records there are. */
const SWEEP_PAGE = 200;

/** A provider's Batch object: stored whole (as JSON text); these fields are also read. */
interface ProviderBatchSeen {
  id: string;
  status: string;
  created_at?: number;
}

/**
 * Batch records. Every write is one transition of `BATCH_TRANSITIONS` (packages/contracts/src/lifecycle.ts)
 * and applies only while the record is in one of that transition's `from` states; each returns whether
 * it applied. A collator's writes also carry the generation it holds the record in, and apply only
 * while that generation is the record's: a collator that lost the record (another took it over) can
 * neither roll it back nor keep it alive. Few records compared with requests, so the scans listing
 * needs are affordable.
 */
export class BatchStore {
  readonly #c: Collections;
  readonly #fences: Fences;
  readonly #guardInFilter: boolean;
  readonly #clock: Clock;
  /** Writes of one record from this process, one after the other (see `#serially`). */
  readonly #writing = new Map<string, Promise<unknown>>();

  /**
   * `guardInFilter`: the from-states and the writer's generation go into the update's filter (atomic on
   * MongoDB). Where the server filters only on `_id` (FerretDB v1), the state is read by `_id` first,
   * then the update goes by `_id`: two cheap commands instead of one that decodes every record. That is
   * not atomic (on FerretDB v1 no conditional update is), so there the generation is judged by its
   * fence, which a take-over inserts before it writes anything (see `#update`).
   * `clock`: where heartbeats and creation times are read (the database's, in `openStore`).
   */
  constructor(
    collections: Collections,
    fences: Fences,
    opts: { guardInFilter: boolean; clock?: Clock } = { guardInFilter: true },
  ) {
    this.#c = collections;
    this.#fences = fences;
    this.#guardInFilter = opts.guardInFilter;
    this.#clock = opts.clock ?? hostClock;
  }

  /** Now on the clock heartbeats are written with: what staleness is judged against. */
  now(): Promise<Date> {
    return this.#clock.now();
  }

  async get(id: string): Promise<BatchRecord | null> {
    const doc = await this.#c.batches.findOne({ _id: id });
    return doc && fromDoc(doc);
  }

  /**
   * → preparing: a new record listing the lines it means to submit (their fences are claimed next). Its
   * times are the store's clock's, whatever the caller's host says.
   */
  async prepare(record: BatchRecord & { state: "preparing" }): Promise<void> {
    const now = await this.#clock.now();
    await this.#c.batches.insertOne(toDoc({ ...record, createdAt: now, updatedAt: now, heartbeatAt: now }));
  }

  /** preparing → same: keeps the lines whose fence it won; with none left it is done (verdict `empty`). */
  trimLines(id: string, lines: string[], generation: number): Promise<boolean> {
    if (lines.length === 0) {
      return this.#write("emptied", id, { lineCount: 0, state: "done", verdict: "empty" }, generation);
    }
    const fields = { linesText: JSON.stringify(lines), lineCount: lines.length };
    return this.#write("trimLines", id, fields, generation);
  }

  /** Recovery's claim on a stale record: wins the next generation's fence, then takes the record. */
  async takeOver(
    record: Pick<BatchRecord, "_id" | "generation">,
    collatorId: string,
    staleBefore?: Date,
  ): Promise<number | null> {
    let generation = record.generation + 1;
    while (!(await this.#fences.claim(fenceIds.generation(record._id, generation), collatorId))) {
      if (!staleBefore || !(await this.#claimAbandoned(record._id, generation, staleBefore))) return null;
      generation += 1;
    }
    // The fence is the claim: the previous generation's writes stop applying from here on.
    const taken = await this.#write(
      "takeOver",
      record._id,
      { generation, owner: collatorId },
      undefined,
      true,
    );
    return taken ? generation : null;
  }

  /**
   * Whether the claim of `generation` was abandoned: won before `staleBefore` by a collator that has not
   * reported the record since (killed between its fence and its first write, or that write failed).
   * Without this, the record would keep its old generation, every later take-over would try the same
   * fence and lose, and the record and its callers would wait for ever. The fence's time is its
   * winner's clock; staleness is measured in minutes, far above any skew between hosts.
   */
  async #claimAbandoned(id: string, generation: number, staleBefore: Date): Promise<boolean> {
    const claimedAt = await this.#fences.claimedAt(fenceIds.generation(id, generation));
    if (!claimedAt || claimedAt > staleBefore) return false;
    const current = await this.#c.batches.findOne({ _id: id }, { projection: { state: 1, heartbeatAt: 1 } });
    const collating = (COLLATING_BATCH_STATES as readonly string[]).includes(current?.state ?? "");
    return collating && current !== null && current.heartbeatAt <= staleBefore;
  }

  /** False once `generation` lost the record (or it left the collating states): stop reporting it. */
  heartbeat(id: string, generation: number): Promise<boolean> {
    return this.#write("heartbeat", id, {}, generation, true);
  }

  /** preparing → uploaded. */
  markUploaded(id: string, inputFileId: string, generation: number): Promise<boolean> {
    return this.#write("uploaded", id, { state: "uploaded", inputFileId }, generation, true);
  }

  /** uploaded | creating → creating, once per generation: false when another claimant won the fence. */
  async claimCreating(id: string, generation: number, collatorId: string): Promise<boolean> {
    if (!(await this.#fences.claim(fenceIds.creating(id, generation), collatorId))) return false;
    // The fence won but the record moved on (submitted or done meanwhile): nothing to create.
    return this.#write("creating", id, { state: "creating" }, generation, true);
  }

  /** creating → submitted: the provider batch exists (false: the record moved on; that batch is not ours to keep). */
  markSubmitted(id: string, batch: ProviderBatchSeen, generation: number): Promise<boolean> {
    const fields = {
      state: "submitted" as const,
      providerBatchId: batch.id,
      providerCreatedAt: batch.created_at ?? null,
      providerBatch: JSON.stringify(batch),
      status: batch.status,
      history: [{ status: batch.status, at: new Date() }],
    };
    return this.#write("submitted", id, fields, generation);
  }

  /** submitted → same: a provider status; appended to the history only when it changed. */
  async recordStatus(
    record: Pick<BatchRecord, "_id" | "status">,
    batch: ProviderBatchSeen,
  ): Promise<boolean> {
    const changed = record.status !== batch.status;
    return this.#update("status", record._id, {
      $set: { providerBatch: JSON.stringify(batch), status: batch.status, updatedAt: new Date() },
      ...(changed ? { $push: { history: { status: batch.status, at: new Date() } } } : {}),
    });
  }

  /** preparing | uploaded | creating → done: the provider refused it for good (every line already failed). */
  async markRefused(
    id: string,
    verdict: Extract<BatchVerdict, `${string}_refused`>,
    generation: number,
  ): Promise<boolean> {
    // Counted before its list goes: with no provider batch, nothing else counts a refused record's
    // lines (the admin API shows them), and one prepared by an earlier version has no count yet.
    const lineCount = await this.lineCount(id);
    return this.#write("refused", id, { state: "done", verdict, lineCount }, generation);
  }

  /** submitted → done: every line's outcome stored and announced. */
  markSettled(id: string): Promise<boolean> {
    return this.#write("settled", id, { state: "done" });
  }

  /**
   * `beat`: the write also says its collator is alive. The time is read when the write goes out, not
   * when it was asked for: a write queued behind the record's others (or a busy store) must not stamp a
   * time already old, or the record looks stale while its holder is at work on it. A write that
   * finishes the record (to `done`) drops its line list (`DROP_LINES`).
   */
  #write(
    transition: BatchTransitionName,
    id: string,
    fields: Partial<Omit<BatchRecordDoc, "_id" | "lines">>,
    generation?: number,
    beat = false,
  ): Promise<boolean> {
    const finishing = BATCH_TRANSITIONS[transition].to === "done";
    const update = async (): Promise<UpdateFilter<BatchRecordDoc>> => ({
      $set: { ...fields, ...(beat ? { heartbeatAt: await this.#clock.now() } : {}), updatedAt: new Date() },
      // A record written before line lists were one text gets its list in the new form.
      ...(finishing
        ? { $unset: DROP_LINES }
        : fields.linesText !== undefined
          ? { $unset: { lines: "" } }
          : {}),
    });
    return this.#update(transition, id, update, generation);
  }

  /**
   * Applies `update` when the record is in one of the transition's from-states and, for a collator's
   * write, still in the writer's `generation`; true when it did.
   */
  #update(
    transition: BatchTransitionName,
    id: string,
    makeUpdate: UpdateFilter<BatchRecordDoc> | (() => Promise<UpdateFilter<BatchRecordDoc>>),
    generation?: number,
  ): Promise<boolean> {
    const { from, holder }: BatchTransition = BATCH_TRANSITIONS[transition];
    if (holder && generation === undefined) throw new Error(`${transition} is written in a generation`);
    return this.#serially(id, async () => {
      const update = typeof makeUpdate === "function" ? await makeUpdate() : makeUpdate;
      if (this.#guardInFilter) {
        const filter: Filter<BatchRecordDoc> = { _id: id, state: { $in: [...from] } };
        if (generation !== undefined) filter.generation = generation;
        return (await this.#c.batches.updateOne(filter, update)).matchedCount > 0;
      }
      // FerretDB v1: the record may say an older generation than the truth (an update there rewrites
      // the whole document, so two racing writes can undo each other); the next generation's fence,
      // inserted by a take-over before it writes, cannot. Judged before and after the write: a
      // take-over that came in between makes the write count as lost, and its writer stops.
      if (generation !== undefined && (await this.#superseded(id, generation))) return false;
      const current = await this.#c.batches.findOne({ _id: id }, { projection: { state: 1 } });
      if (!current || !from.includes(current.state)) return false;
      const result = await this.#c.batches.updateOne({ _id: id }, update);
      if (generation !== undefined && (await this.#superseded(id, generation))) return false;
      return result.matchedCount > 0;
    });
  }

  /** Whether a take-over claimed the generation after `generation`. */
  async #superseded(id: string, generation: number): Promise<boolean> {
    return (await this.#fences.holder(fenceIds.generation(id, generation + 1))) !== null;
  }

  /**
   * Runs one record's writes from this process one after the other: on FerretDB v1 an update rewrites
   * the whole document, so a heartbeat racing its own collator's state write could undo it.
   */
  #serially<T>(id: string, write: () => Promise<T>): Promise<T> {
    const previous = this.#writing.get(id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(write);
    const settled = next.catch(() => {});
    this.#writing.set(id, settled);
    void settled.then(() => {
      if (this.#writing.get(id) === settled) this.#writing.delete(id);
    });
    return next;
  }

  /**
   * Records still collating whose collator last reported before `heartbeatBefore`, oldest first, a page
   * at a time, without their lines: what recovery looks at.
   */
  staleCollating(heartbeatBefore: Date): AsyncGenerator<ClaimView[]> {
    return this.#pages(
      { state: { $in: [...COLLATING_BATCH_STATES] }, heartbeatAt: { $lte: heartbeatBefore } },
      CLAIM_PROJECTION,
    );
  }

  /** The ids of the records in `states`, oldest first, a page at a time: what the poll sweep looks at. */
  idsIn(states: readonly BatchState[]): AsyncGenerator<Pick<BatchRecord, "_id" | "createdAt">[]> {
    return this.#pages({ state: { $in: [...states] } }, { _id: 1, createdAt: 1 } as const);
  }

  /** A record's line list alone (recovery of a record it took over in `preparing`). */
  async linesOf(id: string): Promise<string[]> {
    const found = await this.#c.batches.findOne({ _id: id }, { projection: LINES_PROJECTION });
    return found ? linesIn(found) : [];
  }

  /**
   * Pages of the records `filter` selects, oldest first (createdAt, then _id), with `projection`'s
   * fields only: each page starts after the last one's key, so no query reads more than a page.
   */
  async *#pages<P extends Partial<Record<keyof BatchRecord, 1>> & { _id: 1; createdAt: 1 }>(
    filter: Filter<BatchRecordDoc>,
    projection: P,
  ): AsyncGenerator<Pick<BatchRecord, Extract<keyof P, keyof BatchRecord>>[]> {
    let last: { createdAt: Date; _id: string } | null = null;
    for (;;) {
      const after: Filter<BatchRecordDoc> = last
        ? {
            $or: [
              { createdAt: { $gt: last.createdAt } },
              { createdAt: last.createdAt, _id: { $gt: last._id } },
            ],
          }
        : {};
      const page = (await this.#c.batches
        .find({ ...filter, ...after }, { projection })
        .sort({ createdAt: 1, _id: 1 })
        .limit(SWEEP_PAGE)
        .toArray()) as Pick<BatchRecord, Extract<keyof P, keyof BatchRecord>>[];
      if (page.length > 0) yield page;
      if (page.length < SWEEP_PAGE) return;
      const end = page.at(-1) as unknown as { createdAt: Date; _id: string };
      last = { createdAt: end.createdAt, _id: end._id };
    }
  }

  /**
   * Every record without its lines, newest first: one query, whatever the caller then counts and
   * pages (on FerretDB v1 a filtered or counted query scans the collection all the same).
   */
  summaries(): Promise<BatchSummary[]> {
    return this.#c.batches
      .find({}, { projection: SUMMARY_PROJECTION })
      .sort({ createdAt: -1, _id: -1 })
      .toArray() as Promise<BatchSummary[]>;
  }

  /** One record without its lines: by our record id, else by the provider's batch id. */
  async summary(id: string): Promise<BatchSummary | null> {
    const projection = { projection: SUMMARY_PROJECTION };
    const byId = (await this.#c.batches.findOne({ _id: id }, projection)) as BatchSummary | null;
    if (byId) return byId;
    return (await this.#c.batches.findOne({ providerBatchId: id }, projection)) as BatchSummary | null;
  }

  /**
   * How many lines a record holds: its stored count, else (a record written before counts were kept)
   * its line list's length. A record finished since keeps only the count.
   */
  async lineCount(id: string): Promise<number> {
    // Read for the few records still collating (their provider batch, with its counts, is not there yet).
    const found = await this.#c.batches.findOne(
      { _id: id },
      { projection: { lineCount: 1, ...LINES_PROJECTION } },
    );
    return found ? (found.lineCount ?? linesIn(found).length) : 0;
  }

  /**
   * Drops the line lists that records finished by earlier versions still carry (they kept them), and
   * returns how many records it took them from. Those without a provider batch (refused: few) are
   * counted first, a page at a time, since nothing else counts their lines; the rest lose theirs in
   * one update (on FerretDB v1, one scan of the collection). Safe to repeat and to run beside the
   * apps: no transition leaves `done`.
   */
  async dropFinishedLines(): Promise<number> {
    const carrying: Filter<BatchRecordDoc> = {
      state: "done",
      $or: [{ lines: { $exists: true } }, { linesText: { $exists: true } }],
    };
    let dropped = 0;
    let last = "";
    for (;;) {
      const page = await this.#c.batches
        .find(
          { ...carrying, providerBatchId: null, lineCount: { $exists: false }, _id: { $gt: last } },
          { projection: { _id: 1, ...LINES_PROJECTION } },
        )
        .sort({ _id: 1 })
        .limit(COUNT_PAGE)
        .toArray();
      for (const doc of page) {
        const update = { $set: { lineCount: linesIn(doc).length }, $unset: DROP_LINES };
        dropped += (await this.#c.batches.updateOne({ _id: doc._id }, update)).modifiedCount;
        last = doc._id;
      }
      if (page.length < COUNT_PAGE) break;
    }
    return dropped + (await this.#c.batches.updateMany(carrying, { $unset: DROP_LINES })).modifiedCount;
  }

  /**
   * Which of `ids` are records nothing will settle any more: done, or gone (retention deleted it). By
   * `_id`, 1,000 per query; the state is looked at here, not in the filter (FerretDB v1 filters only on
   * `_id` itself).
   */
  async finishedAmong(ids: string[]): Promise<Set<string>> {
    const states = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 1000) {
      const docs = await this.#c.batches
        .find({ _id: { $in: ids.slice(i, i + 1000) } }, { projection: { state: 1 } })
        .toArray();
      for (const doc of docs) states.set(doc._id, doc.state);
    }
    return new Set(ids.filter((id) => (states.get(id) ?? "done") === "done"));
  }

  /**
   * Inserts whole records as they are, 1,000 per command (imports, fixtures): no transition applies,
   * so nothing is fenced; a record whose id exists is an error.
   */
  async insertMany(records: BatchRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 1000) {
      await this.#c.batches.insertMany(records.slice(i, i + 1000).map(toDoc), { ordered: false });
    }
  }

  /** One record by the provider's batch id, without its line list (the batches API never shows it). */
  async findByProviderId(providerBatchId: string): Promise<BatchSummary | null> {
    return (await this.#c.batches.findOne(
      { providerBatchId },
      { projection: SUMMARY_PROJECTION },
    )) as BatchSummary | null;
  }

  /**
   * Submitted batches, newest first, OpenAI-style cursor pagination on the provider id: one page (and
   * one record more, to tell whether there is more) is read, with only the fields the list shows.
   */
  async list(query: BatchListQuery): Promise<{ records: ListedBatch[]; hasMore: boolean }> {
    const filter: Filter<BatchRecordDoc> = { providerBatchId: { $ne: null } };
    if (query.status === "completed") filter.status = "completed";
    else if (query.status === "not_completed") filter.status = { $ne: "completed" };
    else if (query.status) filter.status = query.status;
    if (query.after) {
      const cursor = await this.#c.batches.findOne(
        { providerBatchId: query.after },
        { projection: { _id: 1, providerCreatedAt: 1, createdAt: 1 } },
      );
      // An unknown cursor is an empty page, not the first page again (a paginator would loop forever).
      if (!cursor) return { records: [], hasMore: false };
      filter.$or = after(cursor);
    }
    // Newest first by the provider's creation time, as OpenAI lists them (records from before that
    // field existed come after, by our own creation time).
    const page = (await this.#c.batches
      .find(filter, { projection: LIST_PROJECTION })
      .sort(LIST_ORDER)
      .limit(query.limit + 1)
      .toArray()) as ListedBatch[];
    return { records: page.slice(0, query.limit), hasMore: page.length > query.limit };
  }
}

/** The batches API's order: the provider's creation time (absent last), ours, then the id; newest first. */
const LIST_ORDER = { providerCreatedAt: -1, createdAt: -1, _id: -1 } as const;

/**
 * The records that come after `cursor` in `LIST_ORDER`. A record without the provider's creation time
 * sorts after every record with one (null is the smallest value in a descending sort).
 */
function after(
  cursor: Pick<BatchRecord, "_id" | "providerCreatedAt" | "createdAt">,
): Filter<BatchRecordDoc>[] {
  const created = cursor.providerCreatedAt ?? null;
  const tie: Filter<BatchRecordDoc>[] = [
    { providerCreatedAt: created, createdAt: { $lt: cursor.createdAt } },
    { providerCreatedAt: created, createdAt: cursor.createdAt, _id: { $lt: cursor._id } },
  ];
  if (created === null) return tie;
  return [{ providerCreatedAt: { $lt: created } }, { providerCreatedAt: null }, ...tie];
}
