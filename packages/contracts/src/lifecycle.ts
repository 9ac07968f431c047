/**
 * Every state a request and a batch record can be in, and every legal transition between them: the
 * one place to read the lifecycle. `BatchStore` implements one method per batch transition below, and
 * each method writes only from the states listed here.
 *
 * Fences make a step happen once. On FerretDB v1 a conditional update is read-modify-write (two racers
 * can both "win"), but a unique-_id insert is atomic everywhere; so every once-only step inserts a fence
 * document (ids built by `fenceIds`) and treats duplicate key as "someone else did it".
 */

// ── Requests ────────────────────────────────────────────────────────────────────────────────────────

/**
 * A request's life:
 *   queued → collating → submitted → succeeded | failed
 *   an expired or cancelled batch (or one failed for its enqueued-token limit) sends its unfinished lines back to queued as a new attempt
 *   (bounded by MAX_RESUBMITS): the one update of a stored request (`RequestStore.requeue`).
 * `queued` lives in its BullMQ job (and in MongoDB again when resubmitted); from `collating` on, the
 * MongoDB documents are the truth. The state is derived, never written (FerretDB v1 scans a whole
 * collection on every update): see `deriveRequestState`.
 */
export const REQUEST_STATES = ["queued", "collating", "submitted", "succeeded", "failed"] as const;
export type RequestState = (typeof REQUEST_STATES)[number];
export type TerminalRequestState = "succeeded" | "failed";
export const isTerminalRequest = (state: RequestState): state is TerminalRequestState =>
  state === "succeeded" || state === "failed";

/** What a request's state is derived from. */
export interface RequestFacts {
  /** Its stored outcome, inserted once when it finished. */
  outcome: { state: TerminalRequestState } | null;
  /** The batch record holding its current attempt's line fence, if any record won it. */
  batchId: string | null;
  /** That batch record's state (null when the record is gone or unread). */
  batchState: BatchState | null;
}

/** A request's state: an outcome means finished; else its line fence places it; else it is queued. */
export function deriveRequestState(facts: RequestFacts): RequestState {
  if (facts.outcome) return facts.outcome.state;
  if (facts.batchId === null) return "queued";
  const state = facts.batchState;
  switch (state) {
    case "submitted":
    case "done":
      return "submitted";
    case "preparing":
    case "uploaded":
    case "creating":
    case null:
      return "collating";
    default:
      return unreachable(state);
  }
}

// ── Batch records ───────────────────────────────────────────────────────────────────────────────────

/**
 * A batch record's life, each step fenced so it happens once even with collators racing:
 *   preparing → uploaded → creating → submitted → (provider statuses) → done
 * `done` means every line's outcome is stored and announced (or the record never had a batch: see
 * its verdict).
 */
export const BATCH_STATES = ["preparing", "uploaded", "creating", "submitted", "done"] as const;
export type BatchState = (typeof BATCH_STATES)[number];

/** States in which a collator carries the record (and recovery may take it over). */
export const COLLATING_BATCH_STATES = ["preparing", "uploaded", "creating"] as const satisfies BatchState[];

/**
 * Our own verdict on a record that ended without a provider batch; kept apart from the provider's
 * `status`. Records written before this field existed carry the verdict in `status` (see `verdictOf`).
 */
export const BATCH_VERDICTS = ["empty", "upload_refused", "create_refused"] as const;
export type BatchVerdict = (typeof BATCH_VERDICTS)[number];

export interface BatchTransition {
  from: readonly BatchState[];
  /** "same": the write keeps the state (it changes who holds the record, or when it last reported). */
  to: BatchState | "same";
  /**
   * The fence that makes the step happen once (the `from` guard is only a safety net: a conditional
   * update is not atomic on FerretDB v1). Line fences are claimed right after the record is inserted.
   */
  fence?: string;
  /**
   * Written by the collator holding the record, and applied only while the generation it holds it in
   * is the record's (MongoDB: in the update's filter; FerretDB v1: judged by the next generation's
   * fence, which a take-over inserts before it writes). A collator that lost the record can neither
   * roll it back nor keep it alive.
   */
  holder?: true;
  why: string;
}

/** Every legal transition of a batch record. Insertion (`prepare`) is the only way into `preparing`. */
export const BATCH_TRANSITIONS = {
  prepare: {
    from: [],
    to: "preparing",
    fence: "line:<request>:<attempt> for each line (claimed right after; the record keeps those it won)",
    why: "a collator flushes a group: the record lists the lines it means to submit",
  },
  trimLines: {
    from: ["preparing"],
    to: "same",
    holder: true,
    why: "keep only the lines whose fence the record won",
  },
  emptied: {
    from: ["preparing"],
    to: "done",
    holder: true,
    why: "the record won none of its lines' fences (verdict `empty`): there is nothing to submit",
  },
  takeOver: {
    from: COLLATING_BATCH_STATES,
    to: "same",
    fence: "batch:<record>:generation:<n+1>",
    why: "recovery claims a record whose collator stopped reporting",
  },
  heartbeat: {
    from: COLLATING_BATCH_STATES,
    to: "same",
    holder: true,
    why: "the collator carrying the record still lives (recovery leaves it alone)",
  },
  uploaded: { from: ["preparing"], to: "uploaded", holder: true, why: "the JSONL file is at the provider" },
  creating: {
    from: ["uploaded", "creating"],
    to: "creating",
    fence: "batch:<record>:creating:<generation>",
    holder: true,
    why: "about to call batches.create; recovery looks the batch up by metadata before creating again",
  },
  submitted: {
    from: ["creating"],
    to: "submitted",
    holder: true,
    why: "the provider batch exists and is recorded (a batch whose record moved on is cancelled unless adopted)",
  },
  status: { from: ["submitted"], to: "same", why: "a newer provider status (poll or cancel)" },
  refused: {
    from: COLLATING_BATCH_STATES,
    to: "done",
    holder: true,
    why: "the provider refused the upload or the create for good: every line failed with its error",
  },
  settled: {
    from: ["submitted"],
    to: "done",
    why: "the batch is terminal and every line's outcome is stored and announced",
  },
} as const satisfies Record<string, BatchTransition>;
export type BatchTransitionName = keyof typeof BATCH_TRANSITIONS;

/** The verdict of a record, whichever field it was written to. */
export function verdictOf(record: {
  verdict?: BatchVerdict | null;
  status: string | null;
}): BatchVerdict | null {
  if (record.verdict) return record.verdict;
  return (BATCH_VERDICTS as readonly string[]).includes(record.status ?? "")
    ? (record.status as BatchVerdict)
    : null;
}

function unreachable(value: never): never {
  throw new Error(`unexpected state ${String(value)}`);
}
