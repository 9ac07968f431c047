import type { IndexDescription } from "mongodb";
import type { Collections } from "./mongo.ts";

/** The apps that query the store, each with the indexes its own queries need. */
export type IndexedApp = "gateway" | "collator" | "poller";

type Wanted = { [C in keyof Collections]?: (IndexDescription & { name: string })[] };

/** The sweeps' query: records in some states, oldest first, paged by (createdAt, _id). */
const byStateAndAge = { key: { state: 1, createdAt: 1, _id: 1 }, name: "state_createdAt" } as const;

/**
 * Every query that filters or sorts on more than `_id`, by the app that sends it. Lookups by `_id` need
 * none (MongoDB indexes `_id` itself). Named, so that creating them again at every start is a no-op.
 */
export const INDEXES: Record<IndexedApp, Wanted> = {
  gateway: {
    batches: [
      // GET /v1/batches: newest first (BatchStore.list), a page at a time.
      { key: { providerCreatedAt: -1, createdAt: -1, _id: -1 }, name: "providerCreatedAt_createdAt" },
      // A batch by the provider's id (retrieve, cancel, a list's cursor, the admin API).
      { key: { providerBatchId: 1 }, name: "providerBatchId" },
      // The dashboard's snapshot: every record, newest first.
      { key: { createdAt: 1, _id: 1 }, name: "createdAt" },
    ],
  },
  collator: {
    // Recovery's sweep of stale records.
    batches: [byStateAndAge],
    // The oldest cache entry (whether Redis's markers may have lapsed).
    cache: [{ key: { createdAt: 1 }, name: "createdAt" }],
  },
  poller: {
    // The poll sweep over submitted records.
    batches: [byStateAndAge],
  },
};

/**
 * Creates the indexes `app`'s queries need, if they are not there yet (MongoDB and FerretDB v1 both
 * take `createIndexes` of an index that exists as a no-op). Run at every start.
 */
export async function ensureIndexes(collections: Collections, app: IndexedApp): Promise<void> {
  for (const [name, indexes] of Object.entries(INDEXES[app])) {
    // One index per command: FerretDB 1.24 panics (and drops the connection) on a command listing
    // several indexes that all exist already.
    for (const index of indexes) await collections[name as keyof Collections].createIndexes([index]);
  }
}
