import { collateQueue, type Outcome, type RequestState } from "@batch-gpt/contracts";
import type { QueueRegistry, RecentAnswers } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";

/** What a fetch of an async call finds about its request. */
export type CallProgress =
  | { kind: "finished"; outcome: Outcome }
  | { kind: "pending"; state: RequestState }
  /** No job, no record, no outcome: it will never be answered. */
  | { kind: "lost" };

/** A pending request found in the store is looked for there again after this long, not sooner. */
const STORE_RECHECK_MS = 10_000;
/** Pending requests remembered at most (each a few dozen bytes); the oldest are forgotten first. */
const MAX_REMEMBERED = 100_000;

/**
 * Where an async call's request stands, for clients that fetch it again and again while it waits
 * (OpenAI's SDK loops poll every second or so). Redis first: an answer arrives there (`answer:<id>`) when
 * the request finishes, and a queued request is a job. MongoDB only for a request Redis knows nothing
 * of, and then at most once per `STORE_RECHECK_MS` per request on this gateway: on FerretDB v1 every
 * read scans its collection, and a few hundred pending calls fetched each second (five reads each)
 * once slowed the whole store to a crawl, the collators and pollers with it. What the recheck covers
 * is rare (an answer older than Redis keeps it, a Redis restart); a new answer is in Redis at once.
 */
export class PendingCalls {
  readonly #store: Store;
  readonly #queues: QueueRegistry;
  readonly #recent: RecentAnswers;
  /** Pending requests the store was read for, with when and what it said (insertion order = age). */
  readonly #checked = new Map<string, { at: number; state: RequestState }>();

  constructor(opts: { store: Store; queues: QueueRegistry; recent: RecentAnswers }) {
    this.#store = opts.store;
    this.#queues = opts.queues;
    this.#recent = opts.recent;
  }

  async progress(requestId: string): Promise<CallProgress> {
    // "stored": finished, its answer too large to keep in Redis (or Redis could not be read).
    const recent = await this.#recent.peek(requestId).catch(() => "stored" as const);
    if (recent && recent !== "stored") return this.#finished(requestId, recent);
    if (recent === null) {
      const checked = this.#checked.get(requestId);
      if (checked && performance.now() - checked.at < STORE_RECHECK_MS) {
        return { kind: "pending", state: checked.state };
      }
      // The collator writes the record before it removes the job: a job still there means queued.
      const job = await this.#queues.producer(collateQueue).state({ requestId, attempt: 0 });
      if (job !== "unknown") return { kind: "pending", state: "queued" };
    }
    const outcome = await this.#store.requests.outcome(requestId);
    if (outcome) return this.#finished(requestId, outcome);
    const request = await this.#store.requests.get(requestId, { outcome: null });
    if (!request) {
      // Its job was gone before the store was read, so a record would have been there: unless a
      // failure was recorded meanwhile (a job failed alone writes an outcome), it is lost.
      const late = await this.#store.requests.outcome(requestId);
      return late ? this.#finished(requestId, late) : { kind: "lost" };
    }
    this.#remember(requestId, request.state);
    return { kind: "pending", state: request.state };
  }

  #finished(requestId: string, outcome: Outcome): CallProgress {
    this.#checked.delete(requestId);
    return { kind: "finished", outcome };
  }

  #remember(requestId: string, state: RequestState): void {
    this.#checked.delete(requestId);
    this.#checked.set(requestId, { at: performance.now(), state });
    if (this.#checked.size > MAX_REMEMBERED) {
      const oldest = this.#checked.keys().next().value;
      if (oldest !== undefined) this.#checked.delete(oldest);
    }
  }
}
