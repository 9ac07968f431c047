import type { Endpoint } from "./endpoints.ts";
import type { BatchState, BatchVerdict, RequestState, TerminalRequestState } from "./lifecycle.ts";

/**
 * The documents we store. Field names are a stored format: renaming one needs a migration.
 * Words: a request's *answer* is the HTTP status and body its caller gets; its *outcome* is the stored
 * document saying it finished (state, answer, usage); a *record* is a batch record.
 */

/**
 * The format version of what this code writes: collate and poll jobs, batch records, line manifests and
 * wake-up messages carry it. A reader takes every version up to its own; version 1 readers ignore the
 * field, and documents from before it (no field) read as version 1.
 */
export const FORMAT_VERSION = 2;

/** What a finished request answers: the line's HTTP status and body (JSON text, as the provider sent it). */
export interface StoredAnswer {
  statusCode: number;
  body: string;
}

/** A request as stored: written once at collation; only `attempt` changes (on resubmission). */
export interface RequestDoc {
  _id: string;
  /** The tenant (client scope) the request belongs to. */
  owner: string;
  provider: string;
  endpoint: Endpoint;
  model: string;
  /** Request body as JSON text: FerretDB refuses keys like `$ref` and nested arrays, so never a BSON tree. */
  body: string;
  key: string;
  traceId: string;
  attempt: number;
  /**
   * How many of its attempts were sent again only because another line made their batch fail
   * (MAX_INNOCENT_RESUBMITS bounds them; they do not count against MAX_RESUBMITS). Absent: none.
   */
  innocentResubmits?: number;
  /** When `body` was blanked (retention, or an operator's erase); absent while it is kept. */
  bodyErasedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** How a request finished, as a caller is answered from it. */
export interface Outcome {
  state: TerminalRequestState;
  answer: StoredAnswer;
}

/** A request's outcome as stored (collection `answers`), inserted once: a duplicate key means it was already. */
export interface OutcomeDoc extends Outcome {
  _id: string;
  /** Token usage of the answer, kept for cost accounting. */
  usage: string | null;
  at: Date;
  /** When its request's body was blanked (retention or an erase): what the body sweep looks for. */
  bodyErasedAt?: Date;
  /** When `answer` was replaced by `expiredAnswer` / `erasedAnswer`; absent while it is kept. */
  answerErasedAt?: Date;
}

/** A request with its derived state (see `deriveRequestState`): the view every reader gets. */
export interface RequestView extends RequestDoc {
  state: RequestState;
  /** Batch record holding the current attempt's line. */
  batchId: string | null;
  answer: StoredAnswer | null;
  usage: string | null;
}

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

/** A batch record: one future or submitted provider batch. Its transitions: `BATCH_TRANSITIONS`. */
export interface BatchRecord {
  _id: string;
  /** FORMAT_VERSION of the writer; absent on records written before (which have no line manifest). */
  v?: number;
  provider: string;
  endpoint: Endpoint;
  model: string;
  state: BatchState;
  /**
   * "<requestId>:<attempt>" of every line this record holds (fenced: a line is in one record only).
   * Empty once the record is `done`: the list is dropped as it finishes (its line manifest keeps them).
   */
  lines: string[];
  /** Claim generation: recovery takes over a stale record by winning the fence for generation + 1. */
  generation: number;
  /** The collator carrying the record (its id). */
  owner: string;
  heartbeatAt: Date;
  inputFileId: string | null;
  providerBatchId: string | null;
  /** The provider batch's `created_at` (epoch seconds): what listings sort by. */
  providerCreatedAt?: number | null;
  /** Latest provider Batch object (JSON text) and its status: the provider's words only. */
  providerBatch: string | null;
  status: string | null;
  /** Our verdict on a record that ended without a provider batch (older records: in `status`). */
  verdict?: BatchVerdict | null;
  history: { status: string; at: Date }[];
  createdAt: Date;
  updatedAt: Date;
}

/** A cached successful answer, by request key. */
export interface CacheEntry {
  _id: string;
  endpoint: Endpoint;
  model: string;
  /** The tenant whose request produced it. */
  owner: string;
  body: string;
  createdAt: Date;
}

/** One async call: its own id, pointing at the (possibly shared) request that answers it. */
export interface CallDoc {
  _id: string;
  requestId: string;
  /** The tenant that made the call (only it may fetch the answer). */
  owner: string;
  /** The key that made it, whose pending-requests quota it counts against until fetched. */
  keyId?: string;
  /** The request's dedup key, freed when the request is found lost (absent on calls recorded before). */
  key?: string;
  endpoint: Endpoint;
  createdAt: Date;
}

/** What a gateway key may do: client keys make requests; admin keys also run the deployment. */
export const KEY_ROLES = ["client", "admin"] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

/**
 * A gateway key (collection `apiKeys`). Only the SHA-256 of the key is stored; the key itself is shown
 * once, when it is created.
 */
export interface ApiKeyDoc {
  /** The key's public id (`key_…`): how operators name it; never the secret. */
  _id: string;
  /** SHA-256 of the key, hex. */
  hash: string;
  /** The tenant the key belongs to: its requests, calls and (by default) cache. */
  tenant: string;
  role: KeyRole;
  /** Models the key may request; absent = any. */
  models?: string[];
  /** Requests per minute; absent = the gateway's default. */
  rpm?: number;
  /** Requests pending at once; absent = the gateway's default. */
  maxPending?: number;
  /** The key's last four characters, so an operator can tell keys apart. */
  hint: string;
  createdAt: Date;
  revokedAt?: Date;
}

/**
 * Who a key listed in GATEWAY_API_KEYS / GATEWAY_ADMIN_KEYS is: named after its SHA-256 (`digestHex`),
 * so the name stays the same across restarts and never reveals the key.
 */
export function envKeyIdentity(digestHex: string, role: KeyRole): { keyId: string; tenant: string } {
  const short = digestHex.slice(0, 12);
  return { keyId: `env_${short}`, tenant: `${role === "admin" ? "admin" : "key"}-${short}` };
}

export const lineId = (requestId: string, attempt: number) => `${requestId}:${attempt}`;
export function parseLineId(line: string): { requestId: string; attempt: number } {
  const at = line.lastIndexOf(":");
  return { requestId: line.slice(0, at), attempt: Number(line.slice(at + 1)) };
}
