import { type Logger, reachedStep } from "@batch-gpt/config";
import {
  type CollateJob,
  collateQueue,
  type Endpoint,
  errorAnswer,
  FORMAT_VERSION,
  isTerminalRequest,
  lineId,
  type Outcome,
  type RequestView,
  type StoredAnswer,
} from "@batch-gpt/contracts";
import type { LineMetrics } from "@batch-gpt/metrics";
import type { Announcement, CacheTier, DonePublisher, Inflight, QueueRegistry } from "@batch-gpt/queue";
import type { LineInfo, Store } from "@batch-gpt/store";
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
  /**
   * For "unfinished": the line did nothing wrong (its batch failed for another line's sake), so sending
   * it again counts against MAX_INNOCENT_RESUBMITS, not MAX_RESUBMITS.
   */
  innocent?: boolean;
  /**
   * The answer's token usage (JSON), when the reader of the result file took it from the line it had
   * parsed anyway: parsing every answer's body again for it cost the poller about half a second of CPU
   * per 50,000 lines. Absent: read from the answer's body.
   */
  usage?: string | null;
}

/** The batch record the lines belong to, and its line manifest (`store.lines.read`). */
export interface DeliveryBatch {
  recordId: string;
  endpoint: Endpoint;
  model: string;
  lines: Map<string, LineInfo>;
}

/**
 * What is left of a delivery once its callers are told: the MongoDB cache entries of the successes
 * Redis's tier serves already, and their `cached` markers. Run it before the batch is marked settled: a
 * crash before then makes the next poller deliver the batch again, this part too.
 */
export type FollowUp = () => Promise<void>;

/**
 * Lines handled at once by one process on the per-line path, across every batch it is settling.
 * Bounded process-wide: each store write holds FerretDB v1 connections until it ends, and ~100 at
 * once freeze it.
 */
const LINE_CONCURRENCY = 16;

/**
 * Stores every line's outcome, then announces them. Order matters for waiters: store → cache (Redis's
 * tier, or MongoDB's) → release dedup key → publish. Safe to repeat: a line already finished keeps its
 * first outcome and is only announced again, and a line that belongs to another record (resubmitted
 * since) is left alone.
 *
 * A line the manifest lists and that finishes takes the bulk path: a few commands per chunk, no read
 * per line. A line to send again, or one the manifest lacks, takes the per-line path (it reads its request).
 *
 * On the bulk path a success whose answer Redis's tier takes is announced before its MongoDB cache entry
 * is written and its key marked cached (`answer`'s follow-up): the gateway looks in the tier before
 * anything else, so from the tier write on an identical request is a hit there. On FerretDB v1 those
 * entries were about a third of the inserts a batch's last caller waited on.
 */
export class OutcomeRecorder {
  readonly #store: Store;
  readonly #inflight: Inflight;
  readonly #tier: CacheTier;
  readonly #publisher: DonePublisher;
  readonly #queues: QueueRegistry;
  readonly #maxResubmits: number;
  readonly #maxInnocentResubmits: number;
  readonly #log: Logger;
  readonly #metrics: LineMetrics | undefined;
  readonly #lanes = pLimit(LINE_CONCURRENCY);

  constructor(opts: {
    store: Store;
    inflight: Inflight;
    tier: CacheTier;
    publisher: DonePublisher;
    queues: QueueRegistry;
    maxResubmits: number;
    /** Resubmissions of a line whose batch failed for another line's sake (counted apart). */
    maxInnocentResubmits?: number;
    log: Logger;
    /** Counts lines by outcome and resubmissions. */
    metrics?: LineMetrics;
  }) {
    this.#store = opts.store;
    this.#inflight = opts.inflight;
    this.#tier = opts.tier;
    this.#publisher = opts.publisher;
    this.#queues = opts.queues;
    this.#maxResubmits = opts.maxResubmits;
    this.#maxInnocentResubmits = opts.maxInnocentResubmits ?? 0;
    this.#log = opts.log;
    this.#metrics = opts.metrics;
  }

  /** Every step of the lines' delivery: `answer`, then its follow-up at once. */
  async deliver(
    batch: DeliveryBatch,
    outcomes: LineOutcome[],
  ): Promise<{ finished: number; resubmitted: number }> {
    const { followUp, ...done } = await this.answer(batch, outcomes);
    await followUp();
    return done;
  }

  /**
   * Stores the lines' outcomes and tells their callers; returns what is left to do (`FollowUp`), for
   * the caller to run once the batch's later lines are told too.
   */
  async answer(
    batch: DeliveryBatch,
    outcomes: LineOutcome[],
  ): Promise<{ finished: number; resubmitted: number; followUp: FollowUp }> {
    const bulk: { outcome: LineOutcome; line: LineInfo }[] = [];
    const single: LineOutcome[] = [];
    for (const outcome of outcomes) {
      const line = batch.lines.get(lineId(outcome.requestId, outcome.attempt));
      // A line past both bounds cannot go again; whether one below them may is read from its request.
      const resend =
        outcome.kind === "unfinished" && outcome.attempt < this.#maxResubmits + this.#maxInnocentResubmits;
      if (line && !resend) bulk.push({ outcome, line });
      else single.push(outcome);
    }
    const { announce, served, at } = await this.#finishMany(batch, bulk);
    const singles = await this.#deliverSingles(batch.recordId, single);
    announce.push(...singles.announce);
    const resubmitted = singles.resubmitted;
    reachedStep("poll.results-stored");
    await this.#publisher.publish(announce);
    this.#count(batch.recordId, announce, resubmitted, outcomes.length);
    return { finished: announce.length, resubmitted, followUp: () => this.#cacheServed(batch, served, at) };
  }

  /**
   * Lines by outcome, counted per chunk. Each request's line is logged at debug level only: a
   * 50,000-line batch is told at info by its batch's own lines ("batch settled", with counts).
   */
  #count(recordId: string, announced: Announcement[], resubmitted: number, lines: number): void {
    // Every announcement here carries its outcome (only a wake-up message may leave it out).
    const succeeded = announced.filter((a) => a.outcome?.state === "succeeded").length;
    const failed = announced.length - succeeded;
    const stale = lines - announced.length - resubmitted;
    const counter = this.#metrics?.lines;
    if (counter) {
      if (succeeded > 0) counter.inc({ outcome: "succeeded" }, succeeded);
      if (failed > 0) counter.inc({ outcome: "failed" }, failed);
      if (resubmitted > 0) counter.inc({ outcome: "resubmitted" }, resubmitted);
      if (stale > 0) counter.inc({ outcome: "stale" }, stale);
    }
    if (!this.#log.isLevelEnabled("debug")) return;
    for (const { requestId, outcome } of announced) {
      this.#log.debug(
        { requestId, recordId, state: outcome?.state, status: outcome?.answer.statusCode },
        "request answered",
      );
    }
  }

  /**
   * Answers requests that never reached a batch: failed ones (refused at collation, or out of
   * attempts) with their error, and ones found in MongoDB's cache at collation (their marker had
   * expired) with the cached answer, which marks them cached again. Each request's dedup key is freed
   * and its callers told; a request already finished keeps its first outcome.
   */
  async answerUnbatched(items: { requestId: string; key: string; answer: StoredAnswer }[]): Promise<void> {
    if (items.length === 0) return;
    const { refused } = await this.#store.requests.finishMany(
      items.map(({ requestId, answer }) => ({
        _id: requestId,
        ...asOutcome(answer),
        usage: usageOf(asOutcome(answer)),
      })),
    );
    if (refused.size > 0) throw new Error(`error outcomes refused: ${[...refused.values()]}`);
    const stored = new Map(
      (await this.#store.requests.outcomes(items.map((i) => i.requestId))).map((o) => [o._id, o]),
    );
    await this.#inflight.settleMany(
      items.map(({ key, requestId }) => ({
        key,
        requestId,
        cached: stored.get(requestId)?.state === "succeeded",
      })),
    );
    await this.#publisher.publish(
      items.flatMap(({ requestId }) => {
        const outcome = stored.get(requestId);
        return outcome ? [{ requestId, outcome: { state: outcome.state, answer: outcome.answer } }] : [];
      }),
    );
  }

  /**
   * The bulk path. The manifest lists only lines this record won, and a request's attempt moves on
   * only when the batch holding it settles, so no request needs reading to know the line is current.
   * Returns the announcements, and the lines `#cacheServed` has left to do (the successes Redis's tier
   * serves from `at` on): of them only the manifest's own entries are kept, never their answers.
   */
  async #finishMany(
    batch: DeliveryBatch,
    items: { outcome: LineOutcome; line: LineInfo }[],
  ): Promise<{ announce: Announcement[]; served: LineInfo[]; at: Date }> {
    const at = new Date();
    if (items.length === 0) return { announce: [], served: [], at };
    const finished = items.map(({ outcome, line }) => ({
      line,
      outcome: asOutcome(outcome.answer),
      usage: outcome.usage,
    }));
    const { existing: already, refused } = await this.#store.requests.finishMany(finished.map(outcomeDoc));
    if (refused.size > 0) {
      // Answers that cannot be stored fail alone, with an error their callers can read.
      const failed = finished.filter(({ line }) => refused.has(line.requestId));
      for (const item of failed) {
        const reason = refused.get(item.line.requestId)!;
        this.#log.error({ requestId: item.line.requestId, reason }, "answer could not be stored");
        item.outcome = asOutcome(notStored(reason));
        item.usage = null;
      }
      const again = await this.#store.requests.finishMany(failed.map(outcomeDoc));
      if (again.refused.size > 0) throw new Error(`error outcomes refused: ${[...again.refused.values()]}`);
      for (const id of again.existing) already.add(id);
    }
    if (already.size > 0) {
      // A repeat (or a request finished through another attempt): its first outcome stands.
      const stored = new Map((await this.#store.requests.outcomes([...already])).map((o) => [o._id, o]));
      for (const item of finished) {
        const first = stored.get(item.line.requestId);
        if (first) item.outcome = { state: first.state, answer: first.answer };
      }
    }
    const succeeded = finished.filter(({ outcome }) => outcome.state === "succeeded");
    // Redis's tier first: the gateway looks there before anything else, so from here on an identical
    // request is a hit, answered with the outcome stored just above. Its entry's age is `at`, as the
    // MongoDB entry's will be (`#cacheServed`, after the announcement).
    const served = await this.#tier.putMany(
      succeeded.map(({ line, outcome }) => ({
        key: line.key,
        body: outcome.answer.body,
        storedAt: at.getTime(),
      })),
    );
    // The other successes (too large for the tier, or every one when it is off) are cached in MongoDB
    // before they are announced, so that a caller who has the answer finds it cached.
    const unserved = succeeded.filter(({ line }) => !served.has(line.key));
    const uncached = await this.#store.cache.putMany(
      unserved.map(({ line, outcome }) => ({
        _id: line.key,
        // The outcome stored just above holds the answer: the entry points at it.
        answerOf: line.requestId,
        endpoint: batch.endpoint,
        model: batch.model,
        owner: line.owner,
        body: outcome.answer.body,
        createdAt: at,
      })),
    );
    // Only now may an identical request start a new attempt (after a failure, or with no-cache, which
    // must not attach to a finished request) or hit the cache. Every key is freed before its request is
    // announced, and a success's key is marked cached in the same step, a tier-served one too, before
    // its MongoDB entry: a gateway that looked in the tier just before the write above, then found the
    // key free, must be sent back to the cache (which looks in the tier again), not start a second
    // line for the same body (the soak caught one billed twice).
    await this.#inflight.settleMany(
      finished.map(({ line, outcome }) => ({
        key: line.key,
        requestId: line.requestId,
        cached: outcome.state === "succeeded" && !uncached.has(line.key),
      })),
    );
    return {
      announce: finished.map(({ line, outcome }) => ({ requestId: line.requestId, outcome })),
      served: succeeded.filter(({ line }) => served.has(line.key)).map(({ line }) => line),
      at,
    };
  }

  /**
   * The follow-up of the bulk path: the MongoDB cache entries of answers Redis's tier serves already,
   * and their `cached` markers renewed (set when they were told: a hit the tier no longer has reads
   * MongoDB, and a marker whose entry is missing is a miss). Meanwhile the tier answers
   * an identical request; should it have lost the entry (evicted), the request is a miss and runs again,
   * as any miss. An entry whose tier entry is gone is not written: an erase in between deleted it (and
   * replaced the answer the entry would point at), and a cache may always miss. An entry MongoDB refuses
   * is not marked: its tier entry answers until it expires. Safe to repeat (settling a key already freed
   * only sets its marker).
   */
  async #cacheServed(batch: DeliveryBatch, served: LineInfo[], at: Date): Promise<void> {
    if (served.length === 0) return;
    const held = await this.#tier.holding(served.map((line) => line.key));
    const lines = served.filter((line) => held.has(line.key));
    if (lines.length === 0) return;
    const uncached = await this.#store.cache.putMany(
      lines.map((line) => ({
        _id: line.key,
        // It points at the stored outcome: no body of its own (`CacheStore` stores none then).
        answerOf: line.requestId,
        endpoint: batch.endpoint,
        model: batch.model,
        owner: line.owner,
        body: "",
        createdAt: at,
      })),
    );
    await this.#inflight.settleMany(
      lines
        .filter((line) => !uncached.has(line.key))
        .map((line) => ({ key: line.key, requestId: line.requestId, cached: true })),
    );
  }

  /**
   * The per-line path: reads the requests (in bulk), then finishes each, sends it again, or leaves it
   * (a stale line: its request moved on to another record or attempt).
   */
  async #deliverSingles(
    recordId: string,
    outcomes: LineOutcome[],
  ): Promise<{ announce: Announcement[]; resubmitted: number }> {
    const announce: Announcement[] = [];
    if (outcomes.length === 0) return { announce, resubmitted: 0 };
    const requests = await this.#store.requests.getMany(outcomes.map((o) => o.requestId));
    const resend: { request: RequestView; outcome: LineOutcome }[] = [];
    const finish: { request: RequestView; answer: StoredAnswer }[] = [];
    for (const outcome of outcomes) {
      const request = requests.get(outcome.requestId);
      if (!request || request.batchId !== recordId || request.attempt !== outcome.attempt) continue;
      if (isTerminalRequest(request.state) && request.answer) {
        // A repeat after a crash (or a failed write) between storing the outcome and freeing the key:
        // finish again with the stored answer (each step keeps what is already there).
        finish.push({ request, answer: request.answer });
      } else if (outcome.kind === "unfinished" && this.#maySendAgain(request, outcome.innocent === true)) {
        resend.push({ request, outcome });
      } else finish.push({ request, answer: outcome.answer });
    }
    await this.#resubmitMany(resend);
    await Promise.all(
      finish.map(({ request, answer }) =>
        this.#lanes(async () => {
          announce.push(await this.#finish(request, answer));
        }),
      ),
    );
    return { announce, resubmitted: resend.length };
  }

  /** Innocent resubmissions and the others have a bound each: neither spends the other's. */
  #maySendAgain(request: RequestView, innocent: boolean): boolean {
    const spared = request.innocentResubmits ?? 0;
    if (innocent) return spared < this.#maxInnocentResubmits;
    return request.attempt - spared < this.#maxResubmits;
  }

  /** Stores the outcome, caches a success, then lets identical requests go on. Safe to repeat. */
  async #finish(request: RequestView, answer: StoredAnswer): Promise<Announcement> {
    let outcome = asOutcome(answer);
    const refused = await this.#store.requests.finish(request._id, outcome.state, answer, usageOf(outcome));
    if (refused) {
      this.#log.error({ requestId: request._id, reason: refused }, "answer could not be stored");
      outcome = asOutcome(notStored(refused));
      const again = await this.#store.requests.finish(request._id, outcome.state, outcome.answer, null);
      if (again) throw new Error(`error outcome refused: ${again}`);
    }
    let ok = outcome.state === "succeeded";
    if (ok) {
      ok = await this.#store.cache.put({
        _id: request.key,
        answerOf: request._id,
        endpoint: request.endpoint,
        model: request.model,
        owner: request.owner,
        body: outcome.answer.body,
        createdAt: new Date(),
      });
      await this.#tier.putMany([{ key: request.key, body: outcome.answer.body }]);
    }
    // Only now may an identical request start a new attempt (after a failure) or hit the cache.
    await this.#inflight.settle(request.key, request._id, ok);
    return { requestId: request._id, outcome };
  }

  /**
   * Sends each request again as a new attempt: a new job, a new line in a future batch. The jobs go
   * first: if we crash before the records are updated, a repeat of this step re-adds the same job ids
   * and the line fences drop the duplicates; the other order could leave a queued record with no job.
   */
  async #resubmitMany(items: { request: RequestView; outcome: LineOutcome }[]): Promise<void> {
    if (items.length === 0) return;
    const collate = this.#queues.producer(collateQueue);
    await Promise.all(
      items.map(({ request, outcome }) =>
        this.#lanes(async () => {
          const job: CollateJob = {
            requestId: request._id,
            attempt: request.attempt + 1,
            owner: request.owner,
            provider: request.provider,
            endpoint: request.endpoint,
            model: request.model,
            body: request.body,
            key: request.key,
            traceId: request.traceId,
            createdAt: request.createdAt.getTime(),
            v: FORMAT_VERSION,
          };
          await collate.add(job, { delay: outcome.retryAfterMs ?? 0 });
          // Its identical requests keep attaching to it for as long as it may take again.
          await this.#inflight.renew(request.key, request._id);
        }),
      ),
    );
    await this.#store.requests.requeueMany(
      items.map(({ request, outcome }) => ({
        id: request._id,
        attempt: request.attempt + 1,
        innocent: outcome.innocent === true,
      })),
    );
    for (const { request, outcome } of items) {
      const reason = reasonOf(outcome.answer);
      this.#metrics?.resubmissions.inc({ reason });
      this.#log.info(
        {
          requestId: request._id,
          attempt: request.attempt + 1,
          delayMs: outcome.retryAfterMs ?? 0,
          reason,
          innocent: outcome.innocent === true,
          traceId: request.traceId,
        },
        "request resubmitted",
      );
    }
  }
}

/** Why a line is sent again: the error code of its answer (batch_expired, token_limit_exceeded, …). */
function reasonOf(answer: StoredAnswer): string {
  try {
    const code = (JSON.parse(answer.body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" && code !== "" ? code : "unknown";
  } catch {
    return "unknown";
  }
}

/** A line's answer as an outcome: succeeded for a 2xx, failed otherwise. */
function asOutcome(answer: StoredAnswer): Outcome {
  const ok = answer.statusCode >= 200 && answer.statusCode < 300;
  return { state: ok ? "succeeded" : "failed", answer };
}

/** The outcome of a line whose answer could not be stored: its caller gets this error instead. */
const notStored = (reason: string) =>
  errorAnswer(500, `The answer to this request could not be stored: ${reason}.`, {
    type: "server_error",
    code: "answer_not_stored",
  });

const outcomeDoc = ({
  line,
  outcome,
  usage,
}: {
  line: LineInfo;
  outcome: Outcome;
  usage?: string | null;
}) => ({
  _id: line.requestId,
  state: outcome.state,
  answer: outcome.answer,
  usage: outcome.state !== "succeeded" ? null : usage !== undefined ? usage : usageOf(outcome),
});

function usageOf({ state, answer }: Outcome): string | null {
  if (state !== "succeeded") return null;
  try {
    const usage = (JSON.parse(answer.body) as { usage?: unknown }).usage;
    return usage ? JSON.stringify(usage) : null;
  } catch {
    return null;
  }
}
