import { ApiKeyStore } from "./api-keys.ts";
import { type BatchListQuery, BatchStore, type ClaimView, type ListedBatch } from "./batches.ts";
import { CacheStore } from "./cache.ts";
import { CallStore } from "./calls.ts";
import { type Clock, DbClock, hostClock } from "./clock.ts";
import { DocumentTooLarge, documentBytes, MAX_DOCUMENT_BYTES } from "./documents.ts";
import { Fences } from "./fences.ts";
import { ensureIndexes, INDEXES, type IndexedApp } from "./indexes.ts";
import { BatchLines, type LineInfo } from "./lines.ts";
import {
  type BatchRecordDoc,
  type CacheRecord,
  type Collections,
  type ConnectOptions,
  connectMongo,
  isDuplicateKey,
  META,
  type MetaDoc,
  type MongoHandle,
} from "./mongo.ts";
import { RequestStore } from "./requests.ts";
import { type Erasure, type Page, RETENTION_PAGE, type Removed, Retention } from "./retention.ts";

export interface Store {
  mongo: MongoHandle;
  requests: RequestStore;
  batches: BatchStore;
  cache: CacheStore;
  calls: CallStore;
  fences: Fences;
  lines: BatchLines;
  apiKeys: ApiKeyStore;
  /** Retention windows and operators' erasures. */
  retention: Retention;
  /**
   * Creates the indexes `app`'s queries need, and moves record fences an older version left among the
   * line fences (idempotent: every app runs it at start).
   */
  ensureIndexes(app: IndexedApp): Promise<void>;
  close(): Promise<void>;
}

/** Connects to MongoDB and builds every store over it. */
export async function openStore(uri: string, dbName: string, opts: ConnectOptions = {}): Promise<Store> {
  const mongo = await connectMongo(uri, dbName, opts);
  const c = mongo.collections;
  const fences = new Fences(c);
  return {
    mongo,
    requests: new RequestStore(c),
    batches: new BatchStore(c, fences, {
      guardInFilter: !mongo.filtersOnlyById,
      clock: new DbClock(mongo.db),
    }),
    cache: new CacheStore(c),
    calls: new CallStore(c),
    fences,
    lines: new BatchLines(c),
    apiKeys: new ApiKeyStore(c),
    retention: new Retention(c),
    ensureIndexes: async (app) => {
      await ensureIndexes(c, app);
      // Record fences written before they had a collection of their own: moved over once, by a worker
      // (the only apps that read them; a new gateway may run beside old workers still writing them).
      if (app === "collator" || app === "poller") await fences.adoptLegacy();
    },
    close: () => mongo.close(),
  };
}

export { type BatchTally, countBatches } from "./batch-counts.ts";
export {
  ApiKeyStore,
  BatchLines,
  type BatchListQuery,
  type BatchRecordDoc,
  BatchStore,
  type CacheRecord,
  CacheStore,
  CallStore,
  type ClaimView,
  type Clock,
  type Collections,
  DbClock,
  DocumentTooLarge,
  documentBytes,
  type Erasure,
  Fences,
  hostClock,
  INDEXES,
  type IndexedApp,
  isDuplicateKey,
  type LineInfo,
  type ListedBatch,
  MAX_DOCUMENT_BYTES,
  META,
  type MetaDoc,
  type Page,
  RETENTION_PAGE,
  type Removed,
  RequestStore,
  Retention,
};
