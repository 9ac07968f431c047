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

export const faultSchema = z
  .object({
    target: z.enum(FAULT_TARGETS),
    status: z.union([z.literal(429), z.literal(500), z.literal(503)]).optional(),
    times: z.number().int().min(1).default(1),
    retryAfterSeconds: z.number().int().min(0).optional(),
    delayMs: z.number().int().min(0).max(600_000).optional(),
  })
  .refine((f) => f.status !== undefined || f.delayMs !== undefined, {
    message: "a fault needs a status, a delayMs, or both",
  });
export type FaultSpec = z.input<typeof faultSchema>;
type Fault = z.output<typeof faultSchema>;

export const nextBatchSchema = z.object({
  outcome: z.enum(["failed_validation", "token_limit_exceeded", "expire", "cancel"]),
  completeLines: z.number().int().min(0).optional(),
});
export interface NextBatch {
  outcome: NextBatchOutcome;
  completeLines?: number | undefined;
}

export class Faults {
  private queue: Fault[] = [];
  /** Outcomes for the next batches created, in order: each POST queues one. */
  private nextBatches: NextBatch[] = [];

  add(spec: FaultSpec): void {
    this.queue.push(faultSchema.parse(spec));
  }

  clear(): void {
    this.queue = [];
    this.nextBatches = [];
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

  /** Applies the next fault for the target: waits its delay, then throws its error (if it has a status). */
  async apply(target: FaultTarget): Promise<void> {
    const fault = this.take(target);
    if (!fault) return;
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.status !== undefined) throw statusError(fault.status, undefined, fault.retryAfterSeconds);
  }

  setNextBatch(next: NextBatch): void {
    this.nextBatches.push(next);
  }

  takeNextBatch(): NextBatch | null {
    return this.nextBatches.shift() ?? null;
  }
}
