import { type Logger, reachedStep } from "@batch-gpt/config";
import {
  type BatchRecord,
  errorAnswer,
  FORMAT_VERSION,
  type PollJob,
  parseLineId,
  pollQueue,
} from "@batch-gpt/contracts";
import type { FollowUp, LineOutcome, OutcomeRecorder } from "@batch-gpt/pipeline";
import {
  type BatchProvider,
  isPermanentFailure,
  isTerminalBatchStatus,
  type ProviderBatch,
  untrackedAnswer,
} from "@batch-gpt/provider";
import {
  DelayedError,
  type Job,
  type QueueRegistry,
  UnrecoverableError,
  type Worker,
} from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import { parseResultLine } from "./results.ts";
import { delayUntilLikelyDone, nextCheckDelay, progressOf, readingOf } from "./schedule.ts";

export interface PollerOptions {
  store: Store;
  queues: QueueRegistry;
  provider: BatchProvider;
  outcomes: OutcomeRecorder;
  log: Logger;
  minIntervalMs: number;
  maxIntervalMs: number;
  concurrency: number;
  lockDurationMs: number;
  /** First wait before resending lines refused for the enqueued-token limit; doubles per attempt. */
  tokenLimitRetryMs: number;
  /** Failed checks of one batch before its unfinished lines are failed (the poll queue's dead letter). */
  maxAttempts?: number;
}

/** Outcomes are stored and announced in chunks, so a 50,000-line result never sits in memory whole. */
const CHUNK = 500;
/** A running batch's counts are stored at most this often (its status whenever it changes). */
const COUNTS_WRITE_EVERY_MS = 5000;
/** Chunks being stored and announced at once. */
const DELIVERIES_IN_FLIGHT = 4;
/**
 * Chunks' follow-ups run at once, once every chunk is announced. They share the cores with the gateways
 * still answering the callers just told: four at once made the last of 10,000 callers wait longer, one
 * at a time settled a 50,000-line batch about 10% slower (bench fan-out and results).
 */
const FOLLOW_UPS_IN_FLIGHT = 2;
/**
 * A batch's first lines whose follow-ups wait until all its lines are told (fan-out: 10,000 callers of
 * one batch). Beyond, waiting longer only made a 50,000-line batch settle slower (bench results).
 */
const DEFERRED_LINES = 10_000;

/**
 * Tracks each submitted batch with one delayed job that reschedules itself (doubling, capped) until
 * the batch is terminal, then stores every line's outcome and wakes its callers.
 */
export class Poller {
  readonly #o: PollerOptions;
  readonly #worker: Worker<PollJob>;

  constructor(opts: PollerOptions) {
    this.#o = opts;
    this.#worker = opts.queues.worker(pollQueue, (job, token) => this.#attempt(job, token), {
      lockMs: opts.lockDurationMs,
      concurrency: opts.concurrency,
      minIntervalMs: opts.minIntervalMs,
      maxIntervalMs: opts.maxIntervalMs,
    });
  }

  /**
   * Gives every submitted, unfinished batch a poll job (an existing job id makes this a no-op). Reads
   * their ids only, a page at a time.
   */
  async sweep(): Promise<number> {
    const polls = this.#o.queues.producer(pollQueue);
    let count = 0;
    for await (const page of this.#o.store.batches.idsIn(["submitted"])) {
      for (const record of page) {
        await polls.add({ recordId: record._id, intervalMs: this.#o.minIntervalMs, v: FORMAT_VERSION });
      }
      count += page.length;
    }
    return count;
  }

  /**
   * One try of a poll job. A failure is retried by BullMQ with backoff; the last one allowed
   * (POLL_MAX_ATTEMPTS) is the dead-letter path: the batch's unfinished lines fail with an error to their
   * callers, rather than the job retrying for ever while they wait.
   */
  async #attempt(job: Job<PollJob>, token?: string): Promise<void> {
    try {
      await this.#process(job, token);
    } catch (err) {
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      // A provider answer that will never change (the batch unknown to this key, the key refused):
      // retried, it would only keep the callers waiting and the operator unaware.
      const final = isPermanentFailure(err);
      if (!final && job.attemptsMade + 1 < (this.#o.maxAttempts ?? Number.POSITIVE_INFINITY)) throw err;
      await this.#giveUp(job.data.recordId, err);
    }
  }

  async #giveUp(recordId: string, err: unknown): Promise<void> {
    const { store, outcomes, log } = this.#o;
    const record = await store.batches.get(recordId);
    if (record?.state !== "submitted") return;
    const reason = err instanceof Error ? err.message : String(err);
    const status = (err as { status?: unknown }).status;
    log.error(
      { recordId, batchId: record.providerBatchId, status, err: reason },
      "batch abandoned: its lines fail",
    );
    const answer = untrackedAnswer(err);
    const delivery = {
      recordId,
      endpoint: record.endpoint,
      model: record.model,
      lines: await store.lines.read(recordId),
    };
    // Lines already settled by an earlier, partial delivery keep their outcome.
    const lines = record.lines.map(parseLineId);
    for (let i = 0; i < lines.length; i += CHUNK) {
      await outcomes.deliver(
        delivery,
        lines.slice(i, i + CHUNK).map((l) => ({ kind: "answer" as const, ...l, answer })),
      );
    }
    await store.batches.markSettled(recordId);
    await this.#dropManifest(recordId);
  }

  async #process(job: Job<PollJob>, token?: string): Promise<void> {
    const parsed = pollQueue.schema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError("malformed poll job");
    // A check reads the record without its line list (up to 50,000 lines, parsed on every read): only
    // settling needs it, and reads it then.
    const record = await this.#o.store.batches.summary(parsed.data.recordId);
    if (record?._id !== parsed.data.recordId || record.state !== "submitted" || !record.providerBatchId)
      return;
    const batch = await this.#o.provider.retrieveBatch(record.providerBatchId);
    const changed = batch.status !== record.status;
    // The status is stored whenever it changes; the counts of a running batch (the dashboard's progress)
    // at most every few seconds. On FerretDB v1 each write scans every batch record, and the first
    // checks of a batch come a few hundred milliseconds apart.
    if (changed || Date.now() - record.updatedAt.getTime() >= COUNTS_WRITE_EVERY_MS)
      await this.#o.store.batches.recordStatus(record, batch);
    if (changed) {
      this.#o.log.info(
        {
          recordId: record._id,
          batchId: batch.id,
          from: record.status,
          status: batch.status,
          counts: batch.request_counts ?? null,
        },
        "batch status changed",
      );
    }
    reachedStep("poll.checked");
    if (!isTerminalBatchStatus(batch.status)) {
      const next = nextCheckDelay(batch.status, parsed.data.intervalMs, this.#o);
      const now = Date.now();
      const progress = progressOf(batch.request_counts, now);
      const delay = progress
        ? delayUntilLikelyDone(parsed.data.progress, progress, next, this.#o.minIntervalMs)
        : next;
      const reading = readingOf(batch.status, progress, now);
      await job.updateData({ ...parsed.data, intervalMs: next, ...(reading ? { progress: reading } : {}) });
      await job.moveToDelayed(now + delay, token);
      throw new DelayedError();
    }
    const full = await this.#o.store.batches.get(record._id);
    if (full?.state !== "submitted") return;
    await this.#settle(full, batch);
  }

  /** Every line of a terminal batch gets exactly one outcome: its result, its error, or a verdict. */
  async #settle(record: BatchRecord, batch: ProviderBatch): Promise<void> {
    const { provider, outcomes, log, store } = this.#o;
    const attempts = new Map(record.lines.map((l) => parseLineId(l)).map((l) => [l.requestId, l.attempt]));
    const seen = new Set<string>();
    // What each line needs to settle travels with the batch: one read for the whole record.
    const delivery = {
      recordId: record._id,
      endpoint: record.endpoint,
      model: record.model,
      lines: await store.lines.read(record._id),
    };
    // Chunks are delivered a few at a time while the file is read on: one after the other, a
    // 10,000-line batch waited on 20 deliveries in a row. What the first DEFERRED_LINES lines leave for
    // later (the MongoDB cache entries of answers Redis's tier serves) waits until every caller of the
    // batch is told: those writes would delay the next chunks' outcomes. A later chunk runs its own
    // follow-up as it goes, and one waiting one, so that a larger batch keeps the store busy while the
    // file is read. A follow-up holds only manifest entries.
    let chunk: LineOutcome[] = [];
    const inFlight = new Set<Promise<void>>();
    const followUps: FollowUp[] = [];
    let deferred = 0;
    let failure: unknown;
    const settled = { finished: 0, resubmitted: 0 };
    const flush = async () => {
      if (chunk.length > 0) {
        const lines = chunk;
        chunk = [];
        const defer = deferred + lines.length <= DEFERRED_LINES;
        if (defer) deferred += lines.length;
        const work: Promise<void> = outcomes
          .answer(delivery, lines)
          .then(async (done) => {
            settled.finished += done.finished;
            settled.resubmitted += done.resubmitted;
            if (defer) followUps.push(done.followUp);
            else {
              await done.followUp();
              await followUps.shift()?.();
            }
          })
          .then(
            () => {
              inFlight.delete(work);
            },
            (err: unknown) => {
              inFlight.delete(work);
              failure ??= err;
            },
          );
        inFlight.add(work);
      }
      if (inFlight.size >= DELIVERIES_IN_FLIGHT) await Promise.race(inFlight);
      if (failure) throw failure;
    };
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      for await (const text of provider.readFileLines(fileId)) {
        const outcome = parseResultLine(text, attempts);
        if (!outcome || seen.has(outcome.requestId)) continue;
        seen.add(outcome.requestId);
        chunk.push(outcome);
        if (chunk.length >= CHUNK) await flush();
      }
    }
    // Lines neither file mentions: the batch as a whole decided their fate.
    const culprits = culpritLines(batch);
    let index = 0;
    for (const [requestId, attempt] of attempts) {
      index++;
      if (seen.has(requestId)) continue;
      const retryMs = this.#o.tokenLimitRetryMs * 2 ** attempt;
      chunk.push({ ...missingLineVerdict(batch, culprits, index, retryMs), requestId, attempt });
      if (chunk.length >= CHUNK) await flush();
    }
    await flush();
    await Promise.all(inFlight);
    if (failure) throw failure;
    log.info({ recordId: record._id, batchId: batch.id, lines: attempts.size }, "batch announced");
    reachedStep("poll.announced");
    for (let i = 0; i < followUps.length; i += FOLLOW_UPS_IN_FLIGHT)
      await Promise.all(followUps.slice(i, i + FOLLOW_UPS_IN_FLIGHT).map((followUp) => followUp()));
    await store.batches.markSettled(record._id);
    log.info(
      { recordId: record._id, batchId: batch.id, status: batch.status, lines: attempts.size, ...settled },
      "batch settled",
    );
    await this.#dropManifest(record._id);
  }

  /**
   * A settled record's line manifest is read no more (see `BatchLines.drop`): deleted, or left for the
   * next start's `dropFinished` should this fail.
   */
  async #dropManifest(recordId: string): Promise<void> {
    await this.#o.store.lines.drop(recordId).catch((err: unknown) => {
      this.#o.log.warn({ recordId, err: String(err) }, "settled batch's line manifest not dropped");
    });
  }

  async close(): Promise<void> {
    await this.#worker.close();
  }
}

type BatchError = NonNullable<NonNullable<ProviderBatch["errors"]>["data"]>[number];

/** Validation errors that name a line (1-based, in file order = our record's line order). */
function culpritLines(batch: ProviderBatch): Map<number, BatchError> {
  const byLine = new Map<number, BatchError>();
  for (const error of batch.errors?.data ?? [])
    if (typeof error.line === "number") byLine.set(error.line, error);
  return byLine;
}

function missingLineVerdict(
  batch: ProviderBatch,
  culprits: Map<number, BatchError>,
  line: number,
  tokenLimitRetryMs: number,
): Omit<LineOutcome, "requestId" | "attempt"> {
  if (batch.status === "failed") {
    const own = culprits.get(line);
    if (own)
      return {
        kind: "answer",
        answer: errorAnswer(400, own.message ?? "Invalid batch line.", {
          code: own.code ?? "invalid_request",
        }),
      };
    const first = batch.errors?.data?.[0];
    const code = first?.code ?? "batch_failed";
    const message = `The batch failed: ${first?.message ?? "no reason given"}`;
    // Refused for load, or failed only because of other lines: this line is worth sending again.
    if (code === "token_limit_exceeded") {
      // The limit drains as other batches finish: wait before trying again rather than failing fast.
      return {
        kind: "unfinished",
        answer: errorAnswer(429, message, { code }),
        retryAfterMs: tokenLimitRetryMs,
      };
    }
    if (culprits.size > 0) {
      // Another line's fault: sent again without it, counted apart (MAX_INNOCENT_RESUBMITS). Once
      // those run out, the caller gets a server error: nothing was wrong with its request.
      return {
        kind: "unfinished",
        innocent: true,
        answer: errorAnswer(
          500,
          `The batch failed because of another request in it (${first?.message ?? "no reason given"}).`,
          { type: "server_error", code: "batch_failed" },
        ),
      };
    }
    return { kind: "answer", answer: errorAnswer(400, message, { code }) };
  }
  if (batch.status === "expired" || batch.status === "cancelled") {
    const code = batch.status === "expired" ? "batch_expired" : "batch_cancelled";
    return {
      kind: "unfinished",
      answer: errorAnswer(503, `The batch was ${batch.status} before this request ran.`, { code }),
    };
  }
  return {
    kind: "answer",
    answer: errorAnswer(500, "The batch completed without a result for this request.", {
      code: "missing_result",
    }),
  };
}
