import { BATCH_FILTERS, type BatchFilter, type BatchSummary, batchViewOf } from "@batch-gpt/contracts";
import type { Store } from "@batch-gpt/store";

export interface BatchesRead {
  /** Every record without its lines, newest first. */
  records: BatchSummary[];
  counts: Record<BatchFilter, number>;
  /** When the read began: the records are as of then. */
  at: number;
}

/**
 * Every batch record (without lines) in memory, read again in the background when it is older than
 * `maxAgeMs` and someone asks: the dashboard and the admin API answer from it at once, a few seconds
 * behind at most. Why: on FerretDB v1 any query over the records decodes all of them (measured here:
 * 2.5–5 s for 10,000 records, a filtered, counted or limited query as much as a full one), so a page
 * that queried per load could not load in under a second. On MongoDB the read takes milliseconds.
 * One read at a time per gateway; the first starts when the gateway does.
 */
export class BatchSnapshot {
  readonly #store: Store;
  readonly #maxAgeMs: number;
  #current: BatchesRead | null = null;
  #loading: Promise<BatchesRead> | null = null;

  constructor(store: Store, maxAgeMs = 2000) {
    this.#store = store;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Starts the first read without waiting for it. */
  warm(): void {
    this.#refresh().catch(() => {});
  }

  /** The last read when it is fresh; a stale one while a new read runs; the first read otherwise. */
  async read(): Promise<BatchesRead> {
    const current = this.#current;
    if (current && Date.now() - current.at < this.#maxAgeMs) return current;
    const loading = this.#refresh();
    if (current) {
      loading.catch(() => {});
      return current;
    }
    return loading;
  }

  /** A record just written by this gateway (a cancel), so the next page shows it without waiting. */
  replace(record: BatchSummary): void {
    const current = this.#current;
    if (!current) return;
    const records = current.records.map((r) => (r._id === record._id ? record : r));
    this.#current = { records, counts: countViews(records), at: current.at };
  }

  #refresh(): Promise<BatchesRead> {
    if (!this.#loading) {
      const at = Date.now();
      this.#loading = this.#store.batches
        .summaries()
        .then((records) => {
          this.#current = { records, counts: countViews(records), at };
          return this.#current;
        })
        .finally(() => {
          this.#loading = null;
        });
    }
    return this.#loading;
  }
}

function countViews(records: BatchSummary[]): Record<BatchFilter, number> {
  const counts = Object.fromEntries(BATCH_FILTERS.map((f) => [f, 0])) as Record<BatchFilter, number>;
  for (const record of records) {
    counts.all++;
    const view = batchViewOf(record);
    if (view) counts[view]++;
  }
  return counts;
}
