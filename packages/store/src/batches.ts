import type { BatchRecord, BatchState } from "@batch-gpt/contracts";
import type { Collections } from "./mongo.ts";

export interface BatchListQuery {
  limit: number;
  /** Provider batch id to start after (OpenAI's cursor). */
  after?: string | undefined;
  /** "completed", "not_completed", or any provider status. */
  status?: string | undefined;
}

/** Batch records. Few compared with requests, so the scans that listing needs are affordable. */
export class BatchStore {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  get(id: string): Promise<BatchRecord | null> {
    return this.#c.batches.findOne({ _id: id });
  }

  async insert(record: BatchRecord): Promise<void> {
    await this.#c.batches.insertOne(record);
  }

  async set(id: string, fields: Partial<Omit<BatchRecord, "_id">>): Promise<void> {
    await this.#c.batches.updateOne({ _id: id }, { $set: { ...fields, updatedAt: new Date() } });
  }

  /** Records a provider status; appends to the history only when it changed. */
  async recordStatus(record: BatchRecord, providerBatch: { status: string }, raw: string): Promise<void> {
    const changed = record.status !== providerBatch.status;
    await this.#c.batches.updateOne(
      { _id: record._id },
      {
        $set: { providerBatch: raw, status: providerBatch.status, updatedAt: new Date() },
        ...(changed ? { $push: { history: { status: providerBatch.status, at: new Date() } } } : {}),
      },
    );
  }

  /** Every record not yet `done`, oldest first: what recovery and the poll sweep look at. */
  unfinished(
    states: BatchState[] = ["preparing", "uploaded", "creating", "submitted"],
  ): Promise<BatchRecord[]> {
    return this.#c.batches
      .find({ state: { $in: states } })
      .sort({ createdAt: 1 })
      .toArray();
  }

  findByProviderId(providerBatchId: string): Promise<BatchRecord | null> {
    return this.#c.batches.findOne({ providerBatchId });
  }

  /** Submitted batches, newest first, OpenAI-style cursor pagination on the provider id. */
  async list(query: BatchListQuery): Promise<{ records: BatchRecord[]; hasMore: boolean }> {
    const filter: Record<string, unknown> = { providerBatchId: { $ne: null } };
    if (query.status === "completed") filter.status = "completed";
    else if (query.status === "not_completed") filter.status = { $ne: "completed" };
    else if (query.status) filter.status = query.status;
    const all = await this.#c.batches.find(filter).sort({ createdAt: -1, _id: -1 }).toArray();
    const start = query.after ? all.findIndex((r) => r.providerBatchId === query.after) + 1 : 0;
    // An unknown cursor is an empty page, not the first page again (a paginator would loop forever).
    if (query.after && start === 0) return { records: [], hasMore: false };
    const page = all.slice(start, start + query.limit);
    return { records: page, hasMore: start + query.limit < all.length };
  }
}
