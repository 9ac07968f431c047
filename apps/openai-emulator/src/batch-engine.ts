/**
 * The batch lifecycle. A batch's transitions are planned at creation over `durationMs`:
 *   0.2·D validating → in_progress (or failed)   0.8·D → finalizing (output written)   1.0·D → completed
 * A timer per batch applies each transition when due, and every read applies due transitions first,
 * so state is right even if a timer is late or the emulator restarted. Timestamps are the planned times.
 */
import { link, rm } from "node:fs/promises";
import type { Endpoint } from "./answers.ts";
import { scanInput } from "./batch-input.ts";
import { emptyUsage, type UnfinishedReason, writeOutputs } from "./batch-output.ts";
import { ApiError } from "./errors.ts";
import type { Faults } from "./faults.ts";
import { newId, nowSeconds } from "./ids.ts";
import type { EmulatorState } from "./state.ts";
import { type BatchObject, type BatchRecord, type BatchStatus, TERMINAL_STATUSES } from "./types.ts";

export function isTerminal(status: BatchStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function batchNotFound(id: string): ApiError {
  return new ApiError(404, `No batch found with id '${id}'.`);
}

export interface CreateBatchParams {
  inputFileId: string;
  endpoint: Endpoint;
  metadata: Record<string, string> | null;
}

export class BatchEngine {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private closed = false;
  private readonly state: EmulatorState;
  private readonly faults: Faults;
  private readonly durationMs: number;

  constructor(state: EmulatorState, faults: Faults, durationMs: number) {
    this.state = state;
    this.faults = faults;
    this.durationMs = durationMs;
  }

  /** Schedules every unfinished batch (after loading persisted state). */
  resume(): void {
    for (const id of this.state.batches.keys()) void this.refresh(id).catch(() => undefined);
  }

  async create(params: CreateBatchParams, nowMs = Date.now()): Promise<BatchObject> {
    const id = newId.batch();
    const inputPath = this.state.batchInputPath(id);
    // A hard link keeps the input even if its file is deleted while the batch runs.
    await link(this.state.filePath(params.inputFileId), inputPath);
    const scan = await scanInput(inputPath, params.endpoint);
    const next = this.faults.takeNextBatch();
    const d = next?.durationMs ?? this.durationMs;
    const created = nowSeconds(nowMs);
    const record: BatchRecord = {
      batch: {
        id,
        object: "batch",
        endpoint: params.endpoint,
        model: scan.model,
        errors: null,
        input_file_id: params.inputFileId,
        completion_window: "24h",
        status: "validating",
        output_file_id: null,
        error_file_id: null,
        created_at: created,
        in_progress_at: null,
        expires_at: created + 24 * 3600,
        finalizing_at: null,
        completed_at: null,
        failed_at: null,
        expired_at: null,
        cancelling_at: null,
        cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        usage: emptyUsage(),
        metadata: params.metadata,
      },
      internal: {
        lines: scan.lines,
        model: scan.model,
        validationErrors: scan.errors,
        failingLines: scan.failingLines,
        plan: {
          validateAt: nowMs + 0.2 * d,
          finalizeAt: nowMs + 0.8 * d,
          completeAt: nowMs + d,
          cancelAt: next?.outcome === "cancel" ? nowMs + 0.5 * d : null,
        },
        outcome:
          next && next.outcome !== "complete"
            ? { kind: next.outcome, completeLines: next.completeLines ?? null }
            : null,
        cancel: null,
        pendingOutput: null,
      },
    };
    this.state.batches.set(id, record);
    this.state.counters.batchesCreated += 1;
    this.state.counters.linesSubmitted += scan.lines;
    await this.state.save();
    this.schedule(record);
    return { ...record.batch };
  }

  /** The batch with every due transition applied. */
  async get(id: string): Promise<BatchObject> {
    await this.refresh(id);
    const record = this.state.batches.get(id);
    if (!record) throw batchNotFound(id);
    return { ...record.batch };
  }

  /** All batches, newest first, each brought up to date. */
  async list(): Promise<BatchObject[]> {
    const ids = [...this.state.batches.keys()];
    await Promise.all(ids.map((id) => this.refresh(id)));
    return ids
      .map((id) => this.state.batches.get(id)?.batch)
      .filter((b): b is BatchObject => b !== undefined)
      .reverse();
  }

  async cancel(id: string, nowMs = Date.now()): Promise<BatchObject> {
    return this.withLock(id, async () => {
      const record = this.mustGet(id);
      await this.advance(record, nowMs);
      const { batch } = record;
      if (batch.status === "cancelling") return { ...batch };
      if (isTerminal(batch.status)) {
        throw new ApiError(409, `Cannot cancel a batch with status '${batch.status}'.`);
      }
      this.startCancel(record, nowMs, this.finishedAt(record, nowMs));
      await this.state.save();
      this.schedule(record);
      return { ...batch };
    });
  }

  /** Expires the batch now: the first `completeLines` lines (default half) are answered, the rest expire. */
  async expireNow(id: string, completeLines: number | undefined, nowMs = Date.now()): Promise<BatchObject> {
    return this.withLock(id, async () => {
      const record = this.mustGet(id);
      await this.advance(record, nowMs);
      const { batch } = record;
      if (isTerminal(batch.status) || batch.status === "cancelling") {
        throw new ApiError(409, `Cannot expire a batch with status '${batch.status}'.`);
      }
      await this.finish(record, "expired", nowMs, completeLines ?? Math.floor(record.internal.lines / 2));
      await this.state.save();
      this.schedule(record);
      return { ...batch };
    });
  }

  private mustGet(id: string): BatchRecord {
    const record = this.state.batches.get(id);
    if (!record) throw batchNotFound(id);
    return record;
  }

  private async refresh(id: string): Promise<void> {
    if (!this.state.batches.has(id)) return;
    await this.withLock(id, async () => {
      const record = this.mustGet(id);
      if (await this.advance(record, Date.now())) await this.state.save();
      this.schedule(record);
    });
  }

  private withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return run;
  }

  /** Request lines (file order) finished by `nowMs` while in progress. */
  private finishedAt(record: BatchRecord, nowMs: number): number {
    const { lines, plan } = record.internal;
    switch (record.batch.status) {
      case "validating":
        return 0;
      case "in_progress": {
        const span = plan.finalizeAt - plan.validateAt;
        if (span <= 0) return lines;
        return Math.max(0, Math.min(lines, Math.floor((lines * (nowMs - plan.validateAt)) / span)));
      }
      default:
        return lines;
    }
  }

  private startCancel(record: BatchRecord, atMs: number, completeLines: number): void {
    const { batch, internal } = record;
    batch.status = "cancelling";
    batch.cancelling_at = nowSeconds(atMs);
    internal.cancel = { doneAt: atMs + 0.2 * this.durationMs, completeLines };
  }

  /** Applies every transition due at `nowMs`; returns whether anything changed. */
  private async advance(record: BatchRecord, nowMs: number): Promise<boolean> {
    const { batch, internal } = record;
    const { plan } = internal;
    let changed = false;
    for (;;) {
      const status: BatchStatus = batch.status;
      switch (status) {
        case "validating": {
          if (nowMs < plan.validateAt) return changed;
          const errors = this.validationOutcome(record);
          if (errors.length > 0) {
            batch.status = "failed";
            batch.failed_at = nowSeconds(plan.validateAt);
            batch.errors = { object: "list", data: errors };
          } else {
            batch.status = "in_progress";
            batch.in_progress_at = nowSeconds(plan.validateAt);
            batch.request_counts = { total: internal.lines, completed: 0, failed: 0 };
          }
          break;
        }
        case "in_progress": {
          if (plan.cancelAt !== null && nowMs >= plan.cancelAt && internal.outcome?.kind === "cancel") {
            const k = internal.outcome.completeLines ?? Math.floor(internal.lines / 2);
            this.startCancel(record, plan.cancelAt, Math.min(k, internal.lines));
            break;
          }
          if (nowMs < plan.finalizeAt) {
            const before = JSON.stringify(batch.request_counts);
            this.updateCounts(record, this.finishedAt(record, nowMs));
            return changed || before !== JSON.stringify(batch.request_counts);
          }
          if (internal.outcome?.kind === "expire") {
            const k = internal.outcome.completeLines ?? Math.floor(internal.lines / 2);
            await this.finish(record, "expired", plan.finalizeAt, k);
            break;
          }
          const out = await writeOutputs(
            this.state,
            record,
            internal.lines,
            "batch_expired",
            plan.finalizeAt,
          );
          internal.pendingOutput = { outputFileId: out.outputFileId, errorFileId: out.errorFileId };
          batch.status = "finalizing";
          batch.finalizing_at = nowSeconds(plan.finalizeAt);
          batch.request_counts = { total: internal.lines, completed: out.completed, failed: out.failed };
          batch.usage = out.usage;
          break;
        }
        case "finalizing": {
          if (nowMs < plan.completeAt) return changed;
          batch.status = "completed";
          batch.completed_at = nowSeconds(plan.completeAt);
          batch.output_file_id = internal.pendingOutput?.outputFileId ?? null;
          batch.error_file_id = internal.pendingOutput?.errorFileId ?? null;
          internal.pendingOutput = null;
          break;
        }
        case "cancelling": {
          const cancel = internal.cancel;
          if (!cancel || nowMs < cancel.doneAt) return changed;
          await this.finish(record, "cancelled", cancel.doneAt, cancel.completeLines);
          break;
        }
        case "completed":
        case "failed":
        case "expired":
        case "cancelled":
          return changed;
        default:
          return assertNever(status);
      }
      changed = true;
    }
  }

  private validationOutcome(record: BatchRecord) {
    const { internal } = record;
    switch (internal.outcome?.kind) {
      case "failed_validation":
        return [
          {
            code: "invalid_request",
            message: "The batch input file failed validation (forced by the emulator's next-batch outcome).",
            param: null,
            line: null,
          },
        ];
      case "token_limit_exceeded":
        return [
          {
            code: "token_limit_exceeded",
            message: `Enqueued token limit reached for ${internal.model ?? "unknown"} in organization org-emulator. Limit: 90,000 enqueued tokens. Please try again once some in_progress batches have been completed.`,
            param: null,
            line: null,
          },
        ];
      default:
        return internal.validationErrors;
    }
  }

  private updateCounts(record: BatchRecord, finished: number): void {
    const failed = record.internal.failingLines.filter((i) => i < finished).length;
    record.batch.request_counts = { total: record.internal.lines, completed: finished - failed, failed };
  }

  /** Ends the batch as expired or cancelled, answering the first `finished` lines. */
  private async finish(
    record: BatchRecord,
    status: "expired" | "cancelled",
    atMs: number,
    finished: number,
  ): Promise<void> {
    const { batch, internal } = record;
    await this.dropPendingOutput(record);
    const started = batch.in_progress_at !== null;
    if (started || status === "expired") {
      if (!started) batch.in_progress_at = nowSeconds(atMs);
      const reason: UnfinishedReason = status === "expired" ? "batch_expired" : "batch_cancelled";
      const k = Math.max(0, Math.min(finished, internal.lines));
      const out = await writeOutputs(this.state, record, k, reason, atMs);
      batch.output_file_id = out.outputFileId;
      batch.error_file_id = out.errorFileId;
      batch.request_counts = { total: internal.lines, completed: out.completed, failed: out.failed };
      batch.usage = out.usage;
    }
    batch.status = status;
    if (status === "expired") batch.expired_at = nowSeconds(atMs);
    else batch.cancelled_at = nowSeconds(atMs);
  }

  private async dropPendingOutput(record: BatchRecord): Promise<void> {
    const pending = record.internal.pendingOutput;
    if (!pending) return;
    for (const id of [pending.outputFileId, pending.errorFileId]) {
      if (!id) continue;
      this.state.files.delete(id);
      await rm(this.state.filePath(id), { force: true });
    }
    record.internal.pendingOutput = null;
  }

  private nextDue(record: BatchRecord): number | null {
    const { batch, internal } = record;
    const { plan } = internal;
    switch (batch.status) {
      case "validating":
        return plan.validateAt;
      case "in_progress":
        return plan.cancelAt !== null && internal.outcome?.kind === "cancel"
          ? plan.cancelAt
          : plan.finalizeAt;
      case "finalizing":
        return plan.completeAt;
      case "cancelling":
        return internal.cancel?.doneAt ?? null;
      default:
        return null;
    }
  }

  private schedule(record: BatchRecord): void {
    const id = record.batch.id;
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const due = this.nextDue(record);
    if (due === null || this.closed) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        void this.refresh(id).catch(() => undefined);
      },
      Math.max(0, due - Date.now()) + 1,
    );
    timer.unref();
    this.timers.set(id, timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.locks.values()]);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected status: ${String(x)}`);
}
