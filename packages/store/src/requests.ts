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
   * Writes the record of each job if it has none yet (a resubmitted request already has one). Two
   * collators holding the same request (a stalled job handed on) may race: on FerretDB v1 an upsert is
   * read-then-insert, so the loser gets a duplicate-key error, which means "already written".
   */
  async ensure(jobs: CollateJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const now = new Date();
    await this.#ensure(jobs, now).catch((error: unknown) => {
      if (!onlyDuplicateKeys(error)) throw error;
    });
  }

  async #ensure(jobs: CollateJob[], now: Date): Promise<void> {
    await this.#c.requests.bulkWrite(
      jobs.map((job) => ({
        updateOne: {
          filter: { _id: job.requestId },
          update: {
            $setOnInsert: {
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
            },
          },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  }

  /** Moves fenced lines into a batch record. Only the fence winner calls this, so no race. */
  async assign(
    lines: { requestId: string; attempt: number }[],
    batchId: string,
    state: RequestState,
  ): Promise<void> {
    if (lines.length === 0) return;
    const now = new Date();
    await this.#c.requests.bulkWrite(
      lines.map(({ requestId, attempt }) => ({
        updateOne: {
          filter: { _id: requestId },
          update: { $set: { state, batchId, attempt, updatedAt: now } },
        },
      })),
      { ordered: false },
    );
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

/** True for a write error made only of duplicate-key errors (a bulk write reports them per operation). */
function onlyDuplicateKeys(error: unknown): boolean {
  if (isDuplicateKey(error)) return true;
  const writeErrors = (error as { writeErrors?: { code: number }[] | { code: number } }).writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  return list.length > 0 && list.every((e) => e.code === 11000);
}
