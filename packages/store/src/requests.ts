import type { CollateJob, RequestRecord, RequestState, StoredAnswer } from "@batch-gpt/contracts";
import { type Collections, isDuplicateKey } from "./mongo.ts";

/** Requests by id. Every filter is exactly `{_id}`: the only lookup FerretDB v1 serves without a scan. */
export class RequestStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  get(id: string): Promise<RequestRecord | null> {
    return this.#c.requests.findOne({ _id: id });
  }

  /**
   * Writes the record of each job if it has none yet (a resubmitted request already has one). An
   * insert, not an upsert: on FerretDB v1 every update scans the whole collection, an insert does not.
   * A duplicate key means "already written" (a resubmission, or two collators holding one request).
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
            state: "queued" as RequestState,
            attempt: job.attempt,
            batchId: null,
            answer: null,
            usage: null,
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

  /** Moves fenced lines into a batch record. Only the fence winner calls this, so no race. */
  async assign(
    lines: { requestId: string; attempt: number }[],
    batchId: string,
    state: RequestState,
  ): Promise<void> {
    if (lines.length === 0) return;
    const now = new Date();
    for (const chunk of chunks(lines)) {
      await this.#c.requests.bulkWrite(
        chunk.map(({ requestId, attempt }) => ({
          updateOne: {
            filter: { _id: requestId },
            update: { $set: { state, batchId, attempt, updatedAt: now } },
          },
        })),
        { ordered: false },
      );
    }
  }

  async finish(
    id: string,
    state: "succeeded" | "failed",
    answer: StoredAnswer,
    usage: string | null,
  ): Promise<void> {
    await this.#c.requests.updateOne({ _id: id }, { $set: { state, answer, usage, updatedAt: new Date() } });
  }

  /** Marks a request as waiting for its next attempt; the collator that fences that attempt moves batchId. */
  async requeue(id: string, attempt: number): Promise<void> {
    await this.#c.requests.updateOne(
      { _id: id },
      { $set: { state: "queued", attempt, updatedAt: new Date() } },
    );
  }
}

/**
 * Statements per update command. FerretDB v1 keeps one of its 100 SQLite connections open for every
 * statement of an update command until the command ends, so one bulk write of 100+ updates (or a few
 * large ones at once) deadlocks the whole server. Small commands, one after another, stay far below.
 */
const UPDATES_PER_COMMAND = 16;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += UPDATES_PER_COMMAND)
    out.push(items.slice(i, i + UPDATES_PER_COMMAND));
  return out;
}

/** True for a write error made only of duplicate-key errors (a bulk write reports them per operation). */
function onlyDuplicateKeys(error: unknown): boolean {
  if (isDuplicateKey(error)) return true;
  const writeErrors = (error as { writeErrors?: { code: number }[] | { code: number } }).writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  return list.length > 0 && list.every((e) => e.code === 11000);
}
