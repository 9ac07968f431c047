import type { AnswerRecord, BatchRecord, CacheRecord, CallRecord, RequestDoc } from "@batch-gpt/contracts";
import { type Collection, type Db, MongoClient, MongoServerError } from "mongodb";

export interface FenceRecord {
  _id: string;
  /** What won the fence (a batch record id, a collator id). */
  holder: string;
  at: Date;
}

export interface Collections {
  requests: Collection<RequestDoc>;
  answers: Collection<AnswerRecord>;
  batches: Collection<BatchRecord>;
  cache: Collection<CacheRecord>;
  calls: Collection<CallRecord>;
  fences: Collection<FenceRecord>;
}

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  collections: Collections;
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
  return {
    client,
    db,
    collections: {
      requests: db.collection<RequestDoc>("requests"),
      answers: db.collection<AnswerRecord>("answers"),
      batches: db.collection<BatchRecord>("batches"),
      cache: db.collection<CacheRecord>("cache"),
      calls: db.collection<CallRecord>("calls"),
      fences: db.collection<FenceRecord>("fences"),
    },
    close: () => client.close(),
  };
}

export const isDuplicateKey = (error: unknown) => error instanceof MongoServerError && error.code === 11000;
