import type {
  ApiKeyDoc,
  BatchRecord,
  CacheEntry,
  CallDoc,
  OutcomeDoc,
  RequestDoc,
  StoredAnswer,
} from "@batch-gpt/contracts";
import { type Collection, type Db, MongoClient, MongoServerError } from "mongodb";
import type { TextChunkDoc, TextRef } from "./large-text.ts";
import type { LineChunkDoc } from "./lines.ts";

export interface FenceRecord {
  _id: string;
  /** What won the fence (a batch record id, a collator id). */
  holder: string;
  at: Date;
}

/**
 * An outcome and a cache entry as stored: a body too large for its document (`LargeTexts`) is empty
 * there, and `bodyRef` says where it is. Readers of the store always get the whole body back.
 */
export type OutcomeRecord = Omit<OutcomeDoc, "answer"> & { answer: StoredAnswer & { bodyRef?: TextRef } };
export type CacheRecord = Omit<CacheEntry, "endpoint" | "model"> &
  Partial<Pick<CacheEntry, "endpoint" | "model">> & {
    bodyRef?: TextRef;
    /**
     * The request whose stored outcome holds the answer (its body is not copied here, and `body` is
     * empty): a cache entry is then a small document, which FerretDB v1 inserts half again as fast as
     * one carrying a copy of the answer. Absent on entries that carry their body (format 2 and before).
     * Such an entry has no `endpoint` and `model` either (written since the poller's settling stores
     * 50,000 of them per batch: FerretDB v1's cost per document goes with its fields, and nothing reads
     * those two); older ones have them.
     */
    answerOf?: string;
  };

/**
 * A batch record as stored: its line list is one JSON text (`linesText`), not an array of up to 50,000
 * strings. FerretDB v1 decodes every field of every record for any query or update of the collection,
 * so with a few hundred earlier records of 1,000 lines each, every write of a live record decoded
 * hundreds of thousands of strings. Records written before keep their `lines` array and are read as
 * they are (`BatchStore` turns both into `BatchRecord`).
 *
 * A `done` record keeps no list at all, only `lineCount`: nothing reads a finished record's lines (its
 * line manifest keeps what settling needed), and FerretDB v1 decoded every earlier record's ~30 KB list
 * for each read of a live one (see `BatchStore.dropFinishedLines` for records finished before).
 */
export type BatchRecordDoc = Omit<BatchRecord, "lines"> & {
  lines?: string[];
  linesText?: string;
  /** How many lines the list holds, written with it; absent on records written before (count the list). */
  lineCount?: number;
};

/**
 * A fact the store keeps about itself, by name (`META`): what would otherwise take a scan of a whole
 * collection to learn, which FerretDB v1 pays for any query but one by `_id`.
 */
export interface MetaDoc {
  _id: string;
  at: Date;
}

/** The names of the `meta` documents. */
export const META = {
  /** No cache entry is older than `at` (`CacheStore.oldestAt`). */
  cacheOldest: "cache-oldest",
  /** Record fences an older version wrote among the lines' were moved over (`Fences.adoptLegacy`). */
  fencesAdopted: "fences-adopted",
} as const;

export interface Collections {
  requests: Collection<RequestDoc>;
  /** Outcomes (the collection's name predates the word). */
  answers: Collection<OutcomeRecord>;
  batches: Collection<BatchRecordDoc>;
  cache: Collection<CacheRecord>;
  calls: Collection<CallDoc>;
  fences: Collection<FenceRecord>;
  /**
   * The fences of batch records (generation and creating, `batch:…` ids): a few per record, apart from
   * the one-per-line fences so that reading one (before every write of a record's holder) does not scan
   * every line's fence on FerretDB v1, which reads a whole collection even by `_id`.
   */
  recordFences: Collection<FenceRecord>;
  /** Batch records' line manifests (see `BatchLines`). */
  batchLines: Collection<LineChunkDoc>;
  /** Parts of texts too large for their document (see `LargeTexts`). */
  textChunks: Collection<TextChunkDoc>;
  /** Gateway keys made with the operator API (hashes only). */
  apiKeys: Collection<ApiKeyDoc>;
  /** A few facts the store keeps about itself (`META`). */
  meta: Collection<MetaDoc>;
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

export interface ConnectOptions {
  /**
   * How long an operation waits for a reachable server before it fails. Workers wait out a restart
   * (10 s); the gateway fails fast, so a caller gets a 503 at once rather than a hang.
   */
  serverSelectionTimeoutMS?: number;
  /** The driver emits every command's start and reply (`commandSucceeded`…): what tests count reads by. */
  monitorCommands?: boolean;
}

export async function connectMongo(
  uri: string,
  dbName: string,
  opts: ConnectOptions = {},
): Promise<MongoHandle> {
  const pool = /[?&]maxPoolSize=/i.test(uri) ? {} : { maxPoolSize: DEFAULT_MAX_POOL_SIZE };
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 10_000,
    appName: "batch-gpt",
    ...(opts.monitorCommands ? { monitorCommands: true } : {}),
    ...pool,
  });
  await client.connect();
  const db = client.db(dbName);
  const info = await db.admin().command({ buildInfo: 1 });
  return {
    client,
    db,
    filtersOnlyById: "ferretdbVersion" in info,
    collections: {
      requests: db.collection<RequestDoc>("requests"),
      answers: db.collection<OutcomeRecord>("answers"),
      batches: db.collection<BatchRecordDoc>("batches"),
      cache: db.collection<CacheRecord>("cache"),
      calls: db.collection<CallDoc>("calls"),
      fences: db.collection<FenceRecord>("fences"),
      recordFences: db.collection<FenceRecord>("recordFences"),
      batchLines: db.collection<LineChunkDoc>("batchLines"),
      textChunks: db.collection<TextChunkDoc>("textChunks"),
      apiKeys: db.collection<ApiKeyDoc>("apiKeys"),
      meta: db.collection<MetaDoc>("meta"),
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
  const errors = writeErrors(error, count);
  if (!errors || [...errors.values()].some((e) => e.code !== 11000)) return null;
  return new Set(errors.keys());
}

/**
 * Every document a bulk insert of `count` documents refused, by index, with the server's code and
 * message; null when it failed as a whole (unreachable server, …: the caller rethrows). A refusal of
 * one document (a duplicate, or one the server will not take) concerns that document alone.
 */
export function writeErrors(error: unknown, count: number): Map<number, WriteError> | null {
  const raw = (error as { writeErrors?: WriteError[] | WriteError }).writeErrors;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  if (list.length === 0) {
    // A bare error names a document only when there was one, and is about it only as a duplicate.
    if (count !== 1 || !isDuplicateKey(error)) return null;
    return new Map([[0, { index: 0, code: 11000, errmsg: (error as Error).message }]]);
  }
  return new Map(list.map((e) => [e.index, e]));
}
export type WriteError = { index: number; code: number; errmsg?: string };
