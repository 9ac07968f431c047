import { setTimeout as sleep } from "node:timers/promises";
import { type Logger, reachedStep } from "@batch-gpt/config";
import { type BatchRecord, FORMAT_VERSION, parseLineId, pollQueue } from "@batch-gpt/contracts";
import type { OutcomeRecorder } from "@batch-gpt/pipeline";
import {
  type BatchProvider,
  isPermanentFailure,
  isTerminalBatchStatus,
  type ProviderBatch,
  type ProviderError,
  refusalAnswer,
} from "@batch-gpt/provider";
import type { QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import type { Heartbeat, Heartbeats } from "./heartbeat.ts";
import { type BatchFile, type BatchLine, sameLines, writeBatchFile } from "./jsonl.ts";
import type { Spool } from "./spool.ts";

/** Bodies read from the store per query when a batch file is rebuilt (see `RequestStore.bodies`). */
const BODIES_PER_READ = 500;

/** Metadata key carrying our record id on the provider's batch: how recovery recognises its own. */
const RECORD_METADATA_KEY = "batch_gpt_record";

/** Creates of one record in one generation (each after a lookup found no batch) before recovery's turn. */
const CREATE_ATTEMPTS = 3;

/** How often a collator whose batch lost its record looks whether the record's holder settled on one. */
const LOSER_CHECKS = 20;

export interface SubmitterOptions {
  store: Store;
  provider: BatchProvider;
  queues: QueueRegistry;
  outcomes: OutcomeRecorder;
  log: Logger;
  collatorId: string;
  pollMinIntervalMs: number;
  /** How often a collator waiting on another's record looks at it. */
  heartbeatMs: number;
  heartbeats: Heartbeats;
  /** Where batch files are written (BATCH_FILE_DIR); unset = the system's temp folder. */
  fileDir?: string | undefined;
}

/**
 * What a collator flushing a group still has of its lines, so the batch file is written without reading
 * the store: the group's spool (every line of the group, when it is healthy), and the bodies it holds.
 */
export interface HeldLines {
  spool: Spool | null;
  /** Request id → body, of the jobs still holding theirs. */
  bodies: Map<string, string>;
}

/** A batch file uploaded before its record was written (`BatchSubmitter.uploadAhead`). */
export interface UploadedAhead {
  fileId: string;
  /** The record's lines the file holds, in its order. */
  lines: string[];
}

/** `work`'s result, or its signal's reason as soon as it aborts (the work itself goes on). */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Carries a batch record from `preparing` to `submitted`: stream the JSONL to the provider, then create
 * the batch exactly once. Runs for a fresh record and for one taken over from a dead collator.
 */
export class BatchSubmitter {
  readonly #o: SubmitterOptions;
  /** Aborted at shutdown: an upload under way is abandoned (its file removed), recovery carries it on. */
  readonly #stopping = new AbortController();
  /** Uploads started ahead of their records (`uploadAhead`), until they end. */
  readonly #ahead = new Set<Promise<UploadedAhead | null>>();

  constructor(opts: SubmitterOptions) {
    this.#o = opts;
  }

  /** Abandons the uploads under way; their records stay for recovery to take over. */
  stop(): void {
    this.#stopping.abort();
  }

  /**
   * Waits for the uploads started ahead of their records to end (an abandoned one ends once its file
   * is removed): a flush that stopped waiting on one, at shutdown, may leave it running.
   */
  async uploadsEnded(): Promise<void> {
    await Promise.allSettled([...this.#ahead]);
  }

  /**
   * `held` (the flushed group's spool and bodies) spares store reads when the caller still has the
   * lines. `carried`: the heartbeat of a caller that already reports the record (recovery, from its
   * take-over on); else one is started here, and stopped when this returns. `ahead`: the record's file, being uploaded since
   * before the record was written (`uploadAhead`).
   */
  async advance(
    recordId: string,
    generation: number,
    held?: HeldLines,
    carried?: Heartbeat,
    ahead?: Promise<UploadedAhead | null>,
  ): Promise<void> {
    const { store, log } = this.#o;
    const heartbeat = carried ?? this.#o.heartbeats.start(recordId, generation);
    const lost = heartbeat.lost;
    try {
      let record = await store.batches.get(recordId);
      if (!record) return;
      if (record.state === "preparing") {
        const signal = AbortSignal.any([this.#stopping.signal, lost]);
        // A file uploaded ahead serves only a record listing exactly its lines, in its order (the
        // provider's line numbers in errors are the file's); otherwise the record's own is uploaded.
        // It is awaited here, under the record's heartbeat: an upload held up at the provider must
        // not leave the record looking abandoned.
        const uploaded = ahead ? await unlessAborted(ahead, signal) : null;
        const inputFileId =
          uploaded && sameLines(uploaded.lines, record.lines)
            ? uploaded.fileId
            : await this.#upload(record, generation, signal, held);
        if (!inputFileId) return;
        // Refused: another collator holds the record now (it uploads its own file).
        if (!(await store.batches.markUploaded(recordId, inputFileId, generation))) return;
        record = { ...record, state: "uploaded", inputFileId };
        reachedStep("collate.uploaded");
      }
      if (record.state === "uploaded" || record.state === "creating") await this.#create(record, generation);
    } catch (error) {
      // An upload abandoned on purpose (the record lost, or this collator stopping) is no failure: the
      // record is its holder's, or recovery's, to carry on.
      if (!lost.aborted && !this.#stopping.signal.aborted) throw error;
      log.info({ recordId, generation }, "batch record left to its holder or to recovery");
    } finally {
      if (!carried) heartbeat.stop();
    }
  }

  /**
   * Uploads a new record's file while the record and its line fences are still being written, so the
   * create waits on whichever of the two ends last rather than on both in turn. Nothing is created
   * from it until `advance` finds the record written, fenced and listing the same lines; a crash
   * before that leaves an unused file at the provider, and the record's holder uploads its own. Null
   * when the upload failed for whatever reason: `advance` then uploads as it always did (and handles
   * the failure there).
   */
  uploadAhead(
    record: Pick<BatchRecord, "_id" | "endpoint" | "lines">,
    held: HeldLines,
  ): Promise<UploadedAhead | null> {
    const upload = this.#uploadAhead(record, held).finally(() => this.#ahead.delete(upload));
    this.#ahead.add(upload);
    return upload;
  }

  async #uploadAhead(
    record: Pick<BatchRecord, "_id" | "endpoint" | "lines">,
    held: HeldLines,
  ): Promise<UploadedAhead | null> {
    try {
      const file = await this.#file(record, held);
      try {
        const { id } = await this.#o.provider.uploadBatchFile(
          file.path,
          `${record._id}.jsonl`,
          this.#stopping.signal,
        );
        this.#o.log.info(
          { recordId: record._id, fileId: id, lines: file.count, bytes: file.bytes },
          "batch file uploaded",
        );
        return { fileId: id, lines: record.lines };
      } finally {
        await file.cleanup();
      }
    } catch (err) {
      this.#o.log.warn(
        { recordId: record._id, err: err instanceof Error ? err.message : String(err) },
        "batch file not uploaded ahead; it is uploaded once the record is written",
      );
      return null;
    }
  }

  async #upload(
    record: BatchRecord,
    generation: number,
    signal: AbortSignal,
    held?: HeldLines,
  ): Promise<string | null> {
    const file = await this.#file(record, held);
    try {
      const { id } = await this.#o.provider.uploadBatchFile(file.path, `${record._id}.jsonl`, signal);
      this.#o.log.info(
        { recordId: record._id, fileId: id, lines: file.count, bytes: file.bytes },
        "batch file uploaded",
      );
      return id;
    } catch (error) {
      if (isPermanentFailure(error)) {
        await this.#failAll(record, error, "upload", generation);
        return null;
      }
      throw error;
    } finally {
      await file.cleanup();
    }
  }

  async #create(record: BatchRecord, generation: number): Promise<void> {
    const { store, provider, log } = this.#o;
    if (record.state === "creating" || generation > 0) {
      // A previous holder may have created the batch and stopped before recording it: look first.
      const found = await this.#lookup(record);
      if (found) {
        log.info({ recordId: record._id, batchId: found.id }, "found the batch a previous collator created");
        return this.#submitted(record, found, generation);
      }
    }
    // A collator that lost its claim (another took the record over) must not create the batch.
    if (!(await this.#stillHolds(record._id, generation))) return;
    if (!(await store.batches.claimCreating(record._id, generation, this.#o.collatorId))) return;
    reachedStep("collate.creating");
    log.info({ recordId: record._id, generation }, "batch creating");
    let batch: ProviderBatch | null = null;
    for (let attempt = 1; !batch; attempt++) {
      try {
        batch = await provider.createBatch({
          inputFileId: record.inputFileId!,
          endpoint: record.endpoint,
          metadata: { [RECORD_METADATA_KEY]: record._id },
        });
      } catch (error) {
        if (isPermanentFailure(error)) return this.#failAll(record, error, "create", generation);
        // The reply may have been lost after the batch was made (a timeout, a reset, a 5xx): never
        // create again before looking. A failed lookup leaves the record in `creating`, for recovery.
        log.warn(
          { recordId: record._id, attempt, err: error instanceof Error ? error.message : String(error) },
          "batch create failed; looking for the batch before creating again",
        );
        batch = await this.#lookup(record);
        if (batch) {
          log.info({ recordId: record._id, batchId: batch.id }, "the batch was created; its reply was lost");
          break;
        }
        if (attempt >= CREATE_ATTEMPTS) throw error; // Left in `creating`: recovery looks, then creates.
        await sleep(500 * 2 ** (attempt - 1));
        if (!(await this.#stillHolds(record._id, generation))) return;
      }
    }
    reachedStep("collate.created");
    await this.#submitted(record, batch, generation);
  }

  /** Whether the record is still this holder's to create: same generation, not yet submitted. */
  async #stillHolds(recordId: string, generation: number): Promise<boolean> {
    const current = await this.#o.store.batches.get(recordId);
    return (
      current !== null &&
      current.generation === generation &&
      current.state !== "submitted" &&
      current.state !== "done"
    );
  }

  /**
   * The provider batch carrying this record, if any. Should there be several (a create sent twice by
   * holders that overlapped), the one to keep is the oldest still alive; the others are cancelled
   * once the record is settled (`#cancelDuplicates`).
   */
  async #lookup(record: BatchRecord): Promise<ProviderBatch | null> {
    const found = await this.#o.provider.findBatchesByMetadata(
      RECORD_METADATA_KEY,
      record._id,
      record.createdAt,
    );
    const alive = found.filter((b) => !["failed", "cancelling", "cancelled", "expired"].includes(b.status));
    const byAge = (a: ProviderBatch, b: ProviderBatch) => a.created_at - b.created_at;
    return alive.sort(byAge)[0] ?? found.sort(byAge)[0] ?? null;
  }

  async #submitted(record: BatchRecord, batch: ProviderBatch, generation: number): Promise<void> {
    const { store, queues, log } = this.#o;
    // Lines need no update: their fences place them in this record, and its state says `submitted`.
    if (!(await store.batches.markSubmitted(record._id, batch, generation))) {
      // Only a record taken over meanwhile gets here: its new holder may adopt this batch or another.
      log.warn({ recordId: record._id, batchId: batch.id }, "batch created but its record had moved on");
      return this.#settleLoser(record._id, batch);
    }
    await queues
      .producer(pollQueue)
      .add(
        { recordId: record._id, intervalMs: this.#o.pollMinIntervalMs, v: FORMAT_VERSION },
        { delay: this.#o.pollMinIntervalMs },
      );
    log.info({ recordId: record._id, batchId: batch.id, lines: record.lines.length }, "batch submitted");
    await this.#cancelDuplicates(record, batch.id);
  }

  /**
   * Any other provider batch carrying the record (a create sent twice) is cancelled: only the adopted
   * one is followed and answered, and the others would run and be billed for nothing.
   */
  async #cancelDuplicates(record: BatchRecord, adoptedId: string): Promise<void> {
    let found: ProviderBatch[];
    try {
      found = await this.#o.provider.findBatchesByMetadata(RECORD_METADATA_KEY, record._id, record.createdAt);
    } catch (err) {
      this.#o.log.warn({ err, recordId: record._id }, "could not look for duplicate batches");
      return;
    }
    for (const duplicate of found) {
      if (duplicate.id !== adoptedId) await this.#cancel(record._id, duplicate);
    }
  }

  /**
   * This collator's batch lost its record to a newer holder. Once that holder settles on a batch,
   * this one is cancelled unless it is the one adopted; a holder that never settles leaves it to the
   * next holder's lookup, which adopts one batch and cancels the rest.
   */
  async #settleLoser(recordId: string, batch: ProviderBatch): Promise<void> {
    for (let check = 0; check < LOSER_CHECKS; check++) {
      const current = await this.#o.store.batches.get(recordId);
      if (!current || current.providerBatchId === batch.id) return;
      if (current.providerBatchId || current.state === "done") return this.#cancel(recordId, batch);
      await sleep(this.#o.heartbeatMs);
    }
    this.#o.log.warn(
      { recordId, batchId: batch.id },
      "the record's new holder has not settled on a batch; it will find this one",
    );
  }

  async #cancel(recordId: string, batch: ProviderBatch): Promise<void> {
    if (isTerminalBatchStatus(batch.status) || batch.status === "cancelling") return;
    try {
      await this.#o.provider.cancelBatch(batch.id);
      this.#o.log.warn({ recordId, batchId: batch.id }, "duplicate batch of the record cancelled");
    } catch (err) {
      this.#o.log.error({ err, recordId, batchId: batch.id }, "could not cancel a duplicate batch");
    }
  }

  /** The provider refused the batch for good: every line fails with its error, nobody waits forever. */
  async #failAll(
    record: BatchRecord,
    error: ProviderError,
    step: "upload" | "create",
    generation: number,
  ): Promise<void> {
    const answer = refusalAnswer(error, step);
    this.#o.log.error(
      { recordId: record._id, status: error.status, message: error.message },
      `batch ${step} refused`,
    );
    const delivery = {
      recordId: record._id,
      endpoint: record.endpoint,
      model: record.model,
      lines: await this.#o.store.lines.read(record._id),
    };
    await this.#o.outcomes.deliver(
      delivery,
      record.lines.map(parseLineId).map((l) => ({ kind: "answer" as const, ...l, answer })),
    );
    await this.#o.store.batches.markRefused(record._id, `${step}_refused`, generation);
  }

  /**
   * The record's batch file: from the flushed group's spool when it has every line (the spool itself
   * when the record has exactly its lines, else a copy of those lines), else written line by line.
   */
  async #file(record: Pick<BatchRecord, "_id" | "endpoint" | "lines">, held?: HeldLines): Promise<BatchFile> {
    if (held?.spool?.healthy) {
      try {
        return await held.spool.fileOf(record._id, record.lines, this.#o.fileDir);
      } catch (err) {
        this.#o.log.warn(
          { recordId: record._id, err: err instanceof Error ? err.message : String(err) },
          "batch file not written from the spool; from the bodies held and the store",
        );
      }
    }
    return writeBatchFile(record._id, this.#lines(record, held?.bodies), this.#o.fileDir);
  }

  /** The record's lines with their bodies: from `bodies`, else read from the store 500 at a time. */
  async *#lines(
    record: Pick<BatchRecord, "_id" | "endpoint" | "lines">,
    bodies?: Map<string, string>,
  ): AsyncIterable<BatchLine> {
    for (let i = 0; i < record.lines.length; i += BODIES_PER_READ) {
      const requestIds = record.lines
        .slice(i, i + BODIES_PER_READ)
        .map((line) => parseLineId(line).requestId);
      const missing = requestIds.filter((id) => !bodies?.has(id));
      const stored = missing.length > 0 ? await this.#o.store.requests.bodies(missing) : null;
      for (const requestId of requestIds) {
        const body = bodies?.get(requestId) ?? stored?.get(requestId);
        if (body === undefined) throw new Error(`request ${requestId} of ${record._id} has no stored body`);
        yield { customId: requestId, endpoint: record.endpoint, body };
      }
    }
  }
}
