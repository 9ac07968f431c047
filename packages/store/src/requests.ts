import type {
  AnswerRecord,
  CollateJob,
  RequestRecord,
  RequestState,
  StoredAnswer,
} from "@batch-gpt/contracts";
import { lineId } from "@batch-gpt/contracts";
import { type Collections, isDuplicateKey } from "./mongo.ts";

/**
 * Requests by id. Every read is exactly `{_id}` (the only lookup FerretDB v1 serves without a scan),
 * and nothing on the hot path updates in place (FerretDB v1 scans the whole collection on every
 * update): a request is inserted once, its batch is its line fence, its outcome an inserted answer.
 */
export class RequestStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  /**
   * The request with its derived state (see RequestState), or null when it was never recorded.
   * `known` passes its outcome when the caller already read it in bulk (`answers`), sparing a lookup
   * that, for a pending request, misses (and a miss scans the collection on FerretDB v1).
   */
  async get(id: string, known?: { answer: AnswerRecord | null }): Promise<RequestRecord | null> {
    const doc = await this.#c.requests.findOne({ _id: id });
    if (!doc) return null;
    const [answer, fence] = await Promise.all([
      known ? known.answer : this.#c.answers.findOne({ _id: id }),
      this.#c.fences.findOne({ _id: `line:${lineId(id, doc.attempt)}` }),
    ]);
    const batchId = fence?.holder ?? null;
    if (answer) return { ...doc, state: answer.state, batchId, answer: answer.answer, usage: answer.usage };
    return { ...doc, state: await this.#pendingState(batchId), batchId, answer: null, usage: null };
  }

  /** Only the outcome: what a held caller needs, in one read. */
  answer(id: string): Promise<AnswerRecord | null> {
    return this.#c.answers.findOne({ _id: id });
  }

  /** The outcomes among `ids` in one query (for re-checking many held requests at once). */
  answers(ids: string[]): Promise<AnswerRecord[]> {
    return this.#c.answers.find({ _id: { $in: ids } }).toArray();
  }

  async #pendingState(batchId: string | null): Promise<RequestState> {
    if (!batchId) return "queued";
    const batch = await this.#c.batches.findOne({ _id: batchId });
    return batch?.state === "submitted" || batch?.state === "done" ? "submitted" : "collating";
  }

  /**
   * Writes the record of each job if it has none yet (a resubmitted request already has one). An
   * insert, not an upsert; a duplicate key means "already written" (a resubmission, or two collators
   * holding one request after a stalled job was handed on).
   */
  async ensure(jobs: CollateJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const now = new Date();
    for (const chunk of chunks(jobs)) {
      await this.#c.requests
        .insertMany(
          chunk.map((job) => ({
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
          })),
          { ordered: false },
        )
        .catch((error: unknown) => {
          if (!onlyDuplicateKeys(error)) throw error;
        });
    }
  }

  /** Records the outcome once; a second call for the same request keeps the first (it was already told). */
  async finish(
    id: string,
    state: "succeeded" | "failed",
    answer: StoredAnswer,
    usage: string | null,
  ): Promise<void> {
    try {
      await this.#c.answers.insertOne({ _id: id, state, answer, usage, at: new Date() });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  /**
   * Moves a request on to its next attempt. The one update in a request's life, and only for lines an
   * expired, cancelled or refused batch left unfinished; the collator that fences that attempt places it.
   */
  async requeue(id: string, attempt: number): Promise<void> {
    await this.#c.requests.updateOne({ _id: id }, { $set: { attempt, updatedAt: new Date() } });
  }
}

/** Documents per insert command, so no single command holds many of FerretDB v1's connections. */
const DOCS_PER_COMMAND = 16;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += DOCS_PER_COMMAND) out.push(items.slice(i, i + DOCS_PER_COMMAND));
  return out;
}

/** True for a write error made only of duplicate-key errors (a bulk write reports them per operation). */
function onlyDuplicateKeys(error: unknown): boolean {
  if (isDuplicateKey(error)) return true;
  const writeErrors = (error as { writeErrors?: { code: number }[] | { code: number } }).writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  return list.length > 0 && list.every((e) => e.code === 11000);
}
