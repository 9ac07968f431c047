import { type Logger, reachedStep } from "@batch-gpt/config";
import {
  type CollateJob,
  collateQueue,
  isTerminalRequest,
  type RequestView,
  type StoredAnswer,
} from "@batch-gpt/contracts";
import type { DonePublisher, Inflight, QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import pLimit from "p-limit";

/** The outcome of one line of a batch record, as read from the provider's files (or decided by us). */
export interface LineOutcome {
  /** "answer": the line ran (2xx or an error of its own). "unfinished": it never ran (batch expired or
   * cancelled first), so it is sent again while attempts remain, else answered with `answer`. */
  kind: "answer" | "unfinished";
  requestId: string;
  /** The attempt this line was; an outcome for an older attempt than the record's is stale. */
  attempt: number;
  answer: StoredAnswer;
  /** For "unfinished": wait this long before sending it again (e.g. while an enqueued-token limit drains). */
  retryAfterMs?: number;
}

/**
 * Lines handled at once by one process, across every batch it is settling. Bounded process-wide, not
 * per batch: each store write holds FerretDB v1 connections until it ends, and ~100 at once freeze it.
 */
const LINE_CONCURRENCY = 16;

/**
 * Stores every line's outcome, then announces them. Order matters for waiters: store → cache →
 * release dedup key → publish. Safe to repeat: a line already terminal is only announced again, and
 * a line that belongs to another record (resubmitted since) is left alone.
 */
export class OutcomeRecorder {
  readonly #store: Store;
  readonly #inflight: Inflight;
  readonly #publisher: DonePublisher;
  readonly #queues: QueueRegistry;
  readonly #maxResubmits: number;
  readonly #log: Logger;
  readonly #lanes = pLimit(LINE_CONCURRENCY);

  constructor(opts: {
    store: Store;
    inflight: Inflight;
    publisher: DonePublisher;
    queues: QueueRegistry;
    maxResubmits: number;
    log: Logger;
  }) {
    this.#store = opts.store;
    this.#inflight = opts.inflight;
    this.#publisher = opts.publisher;
    this.#queues = opts.queues;
    this.#maxResubmits = opts.maxResubmits;
    this.#log = opts.log;
  }

  async deliver(
    batchId: string,
    outcomes: LineOutcome[],
  ): Promise<{ finished: number; resubmitted: number }> {
    const announce: string[] = [];
    let resubmitted = 0;
    // Lines are independent: handle a few at once so a 50,000-line batch is not 50,000 serial round trips.
    // The chunk's outcomes already stored, in one query rather than one (mostly missing) lookup each.
    const stored = await this.#store.requests.outcomes(outcomes.map((o) => o.requestId));
    const storedById = new Map(stored.map((doc) => [doc._id, doc]));
    const handle = async (outcome: LineOutcome) => {
      const request = await this.#store.requests.get(outcome.requestId, {
        outcome: storedById.get(outcome.requestId) ?? null,
      });
      if (!request || request.batchId !== batchId || request.attempt !== outcome.attempt) return;
      if (isTerminalRequest(request.state) && request.answer) {
        // A repeat after a crash (or a failed write) between storing the outcome and freeing the key:
        // finish again with the stored answer (each step keeps what is already there).
        await this.#finish(request, request.answer);
        announce.push(request._id);
        return;
      }
      if (outcome.kind === "unfinished" && request.attempt < this.#maxResubmits) {
        await this.#resubmit(request, outcome.retryAfterMs ?? 0);
        resubmitted++;
        return;
      }
      await this.#finish(request, outcome.answer);
      announce.push(request._id);
    };
    await Promise.all(outcomes.map((outcome) => this.#lanes(() => handle(outcome))));
    reachedStep("poll.results-stored");
    await this.#publisher.publish(announce);
    return { finished: announce.length, resubmitted };
  }

  /** Stores the outcome, caches a success, then lets identical requests go on. Safe to repeat. */
  async #finish(request: RequestView, answer: StoredAnswer): Promise<void> {
    const ok = answer.statusCode >= 200 && answer.statusCode < 300;
    const usage = ok ? usageOf(answer.body) : null;
    await this.#store.requests.finish(request._id, ok ? "succeeded" : "failed", answer, usage);
    if (ok) {
      await this.#store.cache.put({
        _id: request.key,
        endpoint: request.endpoint,
        model: request.model,
        owner: request.owner,
        body: answer.body,
        createdAt: new Date(),
      });
    }
    // Only now may an identical request start a new attempt (after a failure) or hit the cache.
    await this.#inflight.settle(request.key, request._id, ok);
  }

  /**
   * Sends the request again as a new attempt: a new job, a new line in a future batch. The job goes
   * first: if we crash before the record is updated, a repeat of this step re-adds the same job id
   * and the line fence drops the duplicate; the other order could leave a queued record with no job.
   */
  async #resubmit(request: RequestView, delayMs: number): Promise<void> {
    const attempt = request.attempt + 1;
    const job: CollateJob = {
      requestId: request._id,
      attempt,
      owner: request.owner,
      provider: request.provider,
      endpoint: request.endpoint,
      model: request.model,
      body: request.body,
      key: request.key,
      traceId: request.traceId,
      createdAt: request.createdAt.getTime(),
    };
    await this.#queues.producer(collateQueue).add(job, { delay: delayMs });
    await this.#store.requests.requeue(request._id, attempt);
    this.#log.info(
      { requestId: request._id, attempt, delayMs, traceId: request.traceId },
      "request resubmitted",
    );
  }
}

function usageOf(body: string): string | null {
  try {
    const usage = (JSON.parse(body) as { usage?: unknown }).usage;
    return usage ? JSON.stringify(usage) : null;
  } catch {
    return null;
  }
}
