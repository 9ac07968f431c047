import type { BatchRecord, CacheEntry, CallDoc, OutcomeDoc, RequestDoc } from "@batch-gpt/contracts";
import { type Collection, type Db, MongoClient, MongoServerError } from "mongodb";
import type { LineChunkDoc } from "./lines.ts";

export interface FenceRecord {
  _id: string;
  /** What won the fence (a batch record id, a collator id). */
  holder: string;
  at: Date;
}

export interface Collections {
  requests: Collection<RequestDoc>;
  /** Outcomes (the collection's name predates the word). */
  answers: Collection<OutcomeDoc>;
  batches: Collection<BatchRecord>;
  cache: Collection<CacheEntry>;
  calls: Collection<CallDoc>;
  fences: Collection<FenceRecord>;
  /** Batch records' line manifests (see `BatchLines`). */
  batchLines: Collection<LineChunkDoc>;
}

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  collections: Collections;
  /**
   * The server filters only on `_id` itself (FerretDB v1): any other condition is evaluated after
   * every document of the collection was fetched and decoded, so the store keeps such conditions out
   * of its filters there (measured: an update by `_id` and `state` over 200 batch records of 1,000
   * lines took 0.9 s, by `_id` alone 7 ms).
   */
  filtersOnlyById: boolean;
  close(): Promise<void>;
}

/**
 * Connections per process unless the URI says otherwise (`?maxPoolSize=`). The driver's default of 100
 * can exhaust FerretDB v1, whose SQLite backend has 100 connections in all and holds two per update.
 */
const DEFAULT_MAX_POOL_SIZE = 32;

export async function connectMongo(uri: string, dbName: string): Promise<MongoHandle> {
  const pool = /[?&]maxPoolSize=/i.test(uri) ? {} : { maxPoolSize: DEFAULT_MAX_POOL_SIZE };
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, appName: "batch-gpt", ...pool });
  await client.connect();
  const db = client.db(dbName);
  const info = await db.admin().command({ buildInfo: 1 });
  return {
    client,
    db,
    filtersOnlyById: "ferretdbVersion" in info,
    collections: {
      requests: db.collection<RequestDoc>("requests"),
      answers: db.collection<OutcomeDoc>("answers"),
      batches: db.collection<BatchRecord>("batches"),
      cache: db.collection<CacheEntry>("cache"),
      calls: db.collection<CallDoc>("calls"),
      fences: db.collection<FenceRecord>("fences"),
      batchLines: db.collection<LineChunkDoc>("batchLines"),
    },
    close: () => client.close(),
  };
}

export const isDuplicateKey = (error: unknown) => error instanceof MongoServerError && error.code === 11000;

/**
 * The indexes of the documents a bulk insert of `count` documents refused as duplicates, or null when
 * it failed for any other reason (the caller rethrows). A bulk write reports its errors per operation,
 * as one or a list; a bare duplicate-key error names a document only when there was one.
 */
export function duplicateKeyIndexes(error: unknown, count: number): Set<number> | null {
  const writeErrors = (error as { writeErrors?: WriteError[] | WriteError }).writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  if (list.length === 0) return count === 1 && isDuplicateKey(error) ? new Set([0]) : null;
  if (list.some((e) => e.code !== 11000)) return null;
  return new Set(list.map((e) => e.index));
}
type WriteError = { index: number; code: number };
