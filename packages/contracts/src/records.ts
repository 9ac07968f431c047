import type { Endpoint } from "./endpoints.ts";

/**
 * A request's life. `queued` lives in its BullMQ job (and in Mongo again when resubmitted);
 * from `collating` on, the Mongo records are the truth.
 *   queued → collating → submitted → succeeded | failed
 *   expired / cancelled batches send unfinished lines back to queued (bounded by MAX_RESUBMITS).
 * The state is derived, never updated in place (FerretDB v1 scans a whole collection on every update):
 * an answer record means succeeded/failed; else the line fence of the current attempt names the batch
 * record holding it (collating until that record is submitted); else queued.
 */
export const REQUEST_STATES = ["queued", "collating", "submitted", "succeeded", "failed"] as const;
export type RequestState = (typeof REQUEST_STATES)[number];
export const isTerminalRequest = (state: RequestState) => state === "succeeded" || state === "failed";

/** What a finished request answers: the line's HTTP status and body (JSON text, as the provider sent it). */
export interface StoredAnswer {
  statusCode: number;
  body: string;
}

/** A request as stored: written once at collation; only `attempt` changes (on resubmission). */
export interface RequestDoc {
  _id: string;
  owner: string;
  provider: string;
  endpoint: Endpoint;
  model: string;
  /** Request body as JSON text: FerretDB refuses keys like `$ref` and nested arrays, so never a BSON tree. */
  body: string;
  key: string;
  traceId: string;
  attempt: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A request's outcome, inserted once (a duplicate key means it was already recorded). */
export interface AnswerRecord {
  _id: string;
  state: "succeeded" | "failed";
  answer: StoredAnswer;
  /** Token usage of the answer, kept for cost accounting. */
  usage: string | null;
  at: Date;
}

/** What a caller is answered from: a finished request's state and answer. */
export type Finished = Pick<AnswerRecord, "state" | "answer">;

/** A request with its derived state: the view every reader gets. */
export interface RequestRecord extends RequestDoc {
  state: RequestState;
  /** Batch record holding the current attempt's line. */
  batchId: string | null;
  answer: StoredAnswer | null;
  usage: string | null;
}

/**
 * A batch record's life, each step fenced so it happens once even with collators racing:
 *   preparing → uploaded → creating → submitted → (provider statuses) → done
 * `done` means every line's outcome is stored and announced.
 */
export const BATCH_STATES = ["preparing", "uploaded", "creating", "submitted", "done"] as const;
export type BatchState = (typeof BATCH_STATES)[number];

/** Named steps of collation and polling: logged, and the places a crash test stops a process. */
export const STEPS = [
  "collate.claimed",
  "collate.recorded",
  "collate.uploaded",
  "collate.creating",
  "collate.created",
  "poll.checked",
  "poll.results-stored",
  "poll.announced",
] as const;
export type Step = (typeof STEPS)[number];

export interface BatchRecord {
  _id: string;
  provider: string;
  endpoint: Endpoint;
  model: string;
  state: BatchState;
  /** "<requestId>:<attempt>" of every line this record owns (fenced: a line is in one record only). */
  lines: string[];
  /** Claim generation: recovery takes over a stale record by winning the fence for generation + 1. */
  generation: number;
  owner: string;
  heartbeatAt: Date;
  inputFileId: string | null;
  providerBatchId: string | null;
  /** Latest provider Batch object (JSON text) and its status. */
  providerBatch: string | null;
  status: string | null;
  history: { status: string; at: Date }[];
  createdAt: Date;
  updatedAt: Date;
}

export interface CacheRecord {
  _id: string;
  endpoint: Endpoint;
  model: string;
  owner: string;
  body: string;
  createdAt: Date;
}

/** One async call: its own id, pointing at the (possibly shared) request that answers it. */
export interface CallRecord {
  _id: string;
  requestId: string;
  owner: string;
  endpoint: Endpoint;
  createdAt: Date;
}

export const lineId = (requestId: string, attempt: number) => `${requestId}:${attempt}`;
export function parseLineId(line: string): { requestId: string; attempt: number } {
  const at = line.lastIndexOf(":");
  return { requestId: line.slice(0, at), attempt: Number(line.slice(at + 1)) };
}
