/**
 * Injected faults: a FIFO of faults per API operation ("target") and the outcome forced on the next
 * batch created. Filled by `/_emulator/…` control routes, by environment variables and by options.
 */
import { z } from "zod";
import { statusError } from "./errors.ts";
import type { NextBatchOutcome } from "./types.ts";

export const FAULT_TARGETS = [
  "files.create",
  "files.list",
  "files.retrieve",
  "files.content",
  "files.delete",
  "batches.create",
  "batches.retrieve",
  "batches.list",
  "batches.cancel",
  "chat.completions",
  "completions",
  "embeddings",
  "responses",
] as const;
export type FaultTarget = (typeof FAULT_TARGETS)[number];

/** Operations whose effect can happen before the fault strikes (`after`: the reply is what is lost). */
const AFTER_TARGETS: readonly FaultTarget[] = ["files.create", "batches.create"];

export const faultSchema = z
  .object({
    target: z.enum(FAULT_TARGETS),
    /** 401, 403 and 404 are the answers that never change (a rotated or revoked key, a batch of another key). */
    status: z
      .union([z.literal(401), z.literal(403), z.literal(404), z.literal(429), z.literal(500), z.literal(503)])
      .optional(),
    times: z.number().int().min(1).default(1),
    retryAfterSeconds: z.number().int().min(0).optional(),
    delayMs: z.number().int().min(0).max(600_000).optional(),
    /**
     * The call takes effect first (the file stored, the batch created); the delay and the status then
     * apply to its reply: a reply lost after the work was done, as a proxy's 5xx or a timeout can be.
     */
    after: z.boolean().default(false),
    /** files.content only: the body stops after this many bytes and the connection stays open, silent. */
    stallAfterBytes: z.number().int().min(0).optional(),
  })
  .refine((f) => f.status !== undefined || f.delayMs !== undefined || f.stallAfterBytes !== undefined, {
    message: "a fault needs a status, a delayMs or a stallAfterBytes",
  })
  .refine((f) => !f.after || AFTER_TARGETS.includes(f.target), {
    message: `after applies to ${AFTER_TARGETS.join(" and ")} only`,
    path: ["after"],
  })
  .refine((f) => f.stallAfterBytes === undefined || f.target === "files.content", {
    message: "stallAfterBytes applies to files.content only",
    path: ["stallAfterBytes"],
  });
export type FaultSpec = z.input<typeof faultSchema>;
export type Fault = z.output<typeof faultSchema>;

export const nextBatchSchema = z.object({
  outcome: z.enum(["complete", "failed_validation", "token_limit_exceeded", "expire", "cancel"]),
  completeLines: z.number().int().min(0).optional(),
  /** How long this batch runs, instead of the emulator's batch duration (a slow batch, as real ones are). */
  durationMs: z.number().int().min(1).max(86_400_000).optional(),
});
export interface NextBatch {
  outcome: NextBatchOutcome | "complete";
  completeLines?: number | undefined;
  durationMs?: number | undefined;
}

export class Faults {
  private queue: Fault[] = [];
  /** Outcomes for the next batches created, in order: each POST queues one. */
  private nextBatches: NextBatch[] = [];
  /** Aborted by `clear` and `close`: releases the delays and stalls under way (a fault may hold for minutes). */
  private release = new AbortController();

  add(spec: FaultSpec): void {
    this.queue.push(faultSchema.parse(spec));
  }

  clear(): void {
    this.queue = [];
    this.nextBatches = [];
    this.release.abort();
    this.release = new AbortController();
  }

  close(): void {
    this.release.abort();
  }

  pending(): Fault[] {
    return this.queue.map((f) => ({ ...f }));
  }

  /** Takes one use of the first fault queued for the target. */
  take(target: FaultTarget): Fault | undefined {
    const i = this.queue.findIndex((f) => f.target === target);
    if (i < 0) return undefined;
    const fault = this.queue[i] as Fault;
    fault.times -= 1;
    if (fault.times <= 0) this.queue.splice(i, 1);
    return fault;
  }

  /**
   * Applies the next fault for the target before the call: waits its delay, then throws its error (if
   * it has a status). Returns the fault, for what the call does itself: an `after` fault is left to
   * `inflict` once the call took effect, a stall to the body.
   */
  async apply(target: FaultTarget): Promise<Fault | undefined> {
    const fault = this.take(target);
    if (fault && !fault.after) await this.inflict(fault);
    return fault;
  }

  /** Waits the fault's delay (cut short by `clear`), then throws its error when it has a status. */
  async inflict(fault: Fault): Promise<void> {
    if (fault.delayMs) await released(this.release.signal, fault.delayMs);
    if (fault.status !== undefined) throw statusError(fault.status, undefined, fault.retryAfterSeconds);
  }

  /**
   * A body that passes on the first `bytes` bytes of `source`, then sends nothing more, holding the
   * connection open (the declared length never arrives) until the faults are cleared.
   */
  stalled(source: ReadableStream<Uint8Array>, bytes: number): ReadableStream<Uint8Array> {
    const reader = source.getReader();
    const signal = this.release.signal;
    let left = bytes;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (left <= 0) {
          await released(signal, Number.POSITIVE_INFINITY);
          await reader.cancel().catch(() => {});
          // The connection is dropped short of the declared length: the client sees a broken body.
          controller.error(new Error("stalled body released"));
          return;
        }
        const { done, value } = await reader.read();
        if (done) return controller.close();
        const part = value.subarray(0, left);
        left -= part.length;
        controller.enqueue(part);
      },
      cancel: () => reader.cancel().catch(() => {}),
    });
  }

  setNextBatch(next: NextBatch): void {
    this.nextBatches.push(next);
  }

  takeNextBatch(): NextBatch | null {
    return this.nextBatches.shift() ?? null;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function released(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal.addEventListener("abort", done, { once: true });
  });
}
