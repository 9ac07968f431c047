import { type Logger, reachedStep } from "@batch-gpt/config";
import { type BatchRecord, FORMAT_VERSION, parseLineId, pollQueue } from "@batch-gpt/contracts";
import type { OutcomeRecorder } from "@batch-gpt/pipeline";
import {
  type BatchProvider,
  isPermanentFailure,
  type ProviderBatch,
  type ProviderError,
  refusalAnswer,
} from "@batch-gpt/provider";
import type { QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import { type BatchLine, writeBatchFile } from "./jsonl.ts";

/** Metadata key carrying our record id on the provider's batch: how recovery recognises its own. */
const RECORD_METADATA_KEY = "batch_gpt_record";

export interface SubmitterOptions {
  store: Store;
  provider: BatchProvider;
  queues: QueueRegistry;
  outcomes: OutcomeRecorder;
  log: Logger;
  collatorId: string;
  pollMinIntervalMs: number;
  heartbeatMs: number;
}

/**
 * Carries a batch record from `preparing` to `submitted`: stream the JSONL to the provider, then create
 * the batch exactly once. Runs for a fresh record and for one taken over from a dead collator.
 */
export class BatchSubmitter {
  readonly #o: SubmitterOptions;

  constructor(opts: SubmitterOptions) {
    this.#o = opts;
  }

  /** `bodies` (request id → body) spares store reads when the caller still holds the jobs. */
  async advance(recordId: string, generation: number, bodies?: Map<string, string>): Promise<void> {
    const { store } = this.#o;
    const heartbeat = setInterval(
      () => void store.batches.heartbeat(recordId).catch(() => {}),
      this.#o.heartbeatMs,
    );
    try {
      let record = await store.batches.get(recordId);
      if (!record) return;
      if (record.state === "preparing") {
        const inputFileId = await this.#upload(record, bodies);
        if (!inputFileId) return;
        await store.batches.markUploaded(recordId, inputFileId);
        record = { ...record, state: "uploaded", inputFileId };
        reachedStep("collate.uploaded");
      }
      if (record.state === "uploaded" || record.state === "creating") await this.#create(record, generation);
    } finally {
      clearInterval(heartbeat);
    }
  }

  async #upload(record: BatchRecord, bodies?: Map<string, string>): Promise<string | null> {
    const file = await writeBatchFile(record._id, this.#lines(record, bodies));
    try {
      const { id } = await this.#o.provider.uploadBatchFile(file.path, `${record._id}.jsonl`);
      this.#o.log.info(
        { recordId: record._id, fileId: id, lines: file.count, bytes: file.bytes },
        "batch file uploaded",
      );
      return id;
    } catch (error) {
      if (isPermanentFailure(error)) {
        await this.#failAll(record, error, "upload");
        return null;
      }
      throw error;
    } finally {
      await file.cleanup();
    }
  }

  async #create(record: BatchRecord, generation: number): Promise<void> {
    const { store, provider, log } = this.#o;
    if (record.state === "creating") {
      // A previous claimant may have created the batch and died before recording it: look first.
      const found = await provider.findBatchByMetadata(RECORD_METADATA_KEY, record._id, record.createdAt);
      if (found) {
        log.info({ recordId: record._id, batchId: found.id }, "found the batch a previous collator created");
        return this.#submitted(record, found);
      }
    }
    // A collator that lost its claim (another took the record over) must not create the batch.
    const current = await store.batches.get(record._id);
    if (
      !current ||
      current.generation !== generation ||
      current.state === "submitted" ||
      current.state === "done"
    )
      return;
    if (!(await store.batches.claimCreating(record._id, generation, this.#o.collatorId))) return;
    reachedStep("collate.creating");
    log.info({ recordId: record._id, generation }, "batch creating");
    let batch: ProviderBatch;
    try {
      batch = await provider.createBatch({
        inputFileId: record.inputFileId!,
        endpoint: record.endpoint,
        metadata: { [RECORD_METADATA_KEY]: record._id },
      });
    } catch (error) {
      if (isPermanentFailure(error)) return this.#failAll(record, error, "create");
      throw error; // Left in `creating`: recovery looks for the batch, then creates it if absent.
    }
    reachedStep("collate.created");
    await this.#submitted(record, batch);
  }

  async #submitted(record: BatchRecord, batch: ProviderBatch): Promise<void> {
    const { store, queues, log } = this.#o;
    // Lines need no update: their fences place them in this record, and its state says `submitted`.
    if (!(await store.batches.markSubmitted(record._id, batch))) {
      // Only a record taken over meanwhile gets here; its new holder finds this batch by metadata.
      log.warn({ recordId: record._id, batchId: batch.id }, "batch created but its record had moved on");
      return;
    }
    await queues
      .producer(pollQueue)
      .add(
        { recordId: record._id, intervalMs: this.#o.pollMinIntervalMs, v: FORMAT_VERSION },
        { delay: this.#o.pollMinIntervalMs },
      );
    log.info({ recordId: record._id, batchId: batch.id, lines: record.lines.length }, "batch submitted");
  }

  /** The provider refused the batch for good: every line fails with its error, nobody waits forever. */
  async #failAll(record: BatchRecord, error: ProviderError, step: "upload" | "create"): Promise<void> {
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
    await this.#o.store.batches.markRefused(record._id, `${step}_refused`);
  }

  async *#lines(record: BatchRecord, bodies?: Map<string, string>): AsyncIterable<BatchLine> {
    for (const line of record.lines) {
      const { requestId } = parseLineId(line);
      const body = bodies?.get(requestId) ?? (await this.#o.store.requests.get(requestId))?.body;
      if (body === undefined) throw new Error(`request ${requestId} of ${record._id} has no stored body`);
      yield { customId: requestId, endpoint: record.endpoint, body };
    }
  }
}
