import type { OutcomeDoc } from "@batch-gpt/contracts";
import type { RequestStore } from "@batch-gpt/store";
import type { LostCheck } from "./lost-check.ts";

/** "lost": the request exists nowhere any more; "shutdown": this process is stopping (the request goes on). */
export type WaitResult = OutcomeDoc | "lost" | "shutdown";

const RECHECK_CHUNK = 500;

interface Waiter {
  resolve(result: WaitResult): void;
  since: number;
}

/**
 * Callers held open until their request is answered. One map per process from request id to its
 * waiters: a wake-up (or a re-check) reads the record once and answers every waiter of that id.
 * Registering happens before the store is read, so an answer published in between is not missed.
 */
export class Waiters {
  readonly #held = new Map<string, Set<Waiter>>();
  readonly #requests: RequestStore;
  readonly #isLost: LostCheck;
  readonly #lostGraceMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: { requests: RequestStore; isLost: LostCheck; recheckMs: number; lostGraceMs?: number }) {
    this.#requests = opts.requests;
    this.#isLost = opts.isLost;
    this.#lostGraceMs = opts.lostGraceMs ?? opts.recheckMs;
    this.#timer = setInterval(() => void this.recheckAll(), opts.recheckMs);
    this.#timer.unref();
  }

  get size(): number {
    let n = 0;
    for (const set of this.#held.values()) n += set.size;
    return n;
  }

  /**
   * Resolves with the request's outcome, or "lost" when it provably no longer exists anywhere.
   * Aborting `signal` (the caller went away) frees the waiter; the request itself goes on.
   */
  wait(requestId: string, signal?: AbortSignal): Promise<WaitResult> {
    // Nobody to hold: the process is stopping, or the caller left before we started waiting.
    if (this.#closed || signal?.aborted) return Promise.resolve("shutdown");
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, since: Date.now() };
      let set = this.#held.get(requestId);
      if (!set) {
        set = new Set();
        this.#held.set(requestId, set);
      }
      set.add(waiter);
      const release = () => this.#remove(requestId, waiter);
      signal?.addEventListener("abort", release, { once: true });
      waiter.resolve = (result) => {
        signal?.removeEventListener("abort", release);
        release();
        resolve(result);
      };
      void this.check(requestId);
    });
  }

  /** Called for every "done" message: reads the outcome once for all its waiters. */
  async check(requestId: string): Promise<void> {
    const set = this.#held.get(requestId);
    if (!set || set.size === 0) return;
    const outcome = await this.#requests.outcome(requestId).catch(() => null);
    if (outcome) this.#resolveAll(requestId, outcome);
  }

  /**
   * After a Redis reconnect and on a timer: messages published meanwhile may have been lost. One query
   * per few hundred held requests, not one each: on FerretDB v1 every lookup that misses scans the
   * collection, and most held requests are still pending.
   */
  async recheckAll(): Promise<void> {
    const ids = [...this.#held.keys()];
    for (let i = 0; i < ids.length; i += RECHECK_CHUNK) {
      const chunk = ids.slice(i, i + RECHECK_CHUNK);
      const found = await this.#requests.outcomes(chunk).catch(() => null);
      if (!found) return;
      const byId = new Map(found.map((outcome) => [outcome._id, outcome]));
      for (const id of chunk) {
        const outcome = byId.get(id);
        if (outcome) this.#resolveAll(id, outcome);
        else await this.#checkLost(id);
      }
    }
  }

  /** A request held long enough, with no job and no record anywhere, will never be answered. */
  async #checkLost(requestId: string): Promise<void> {
    const set = this.#held.get(requestId);
    if (!set || ![...set].some((w) => Date.now() - w.since >= this.#lostGraceMs)) return;
    if (await this.#isLost(requestId).catch(() => false)) this.#resolveAll(requestId, "lost");
  }

  #resolveAll(requestId: string, result: WaitResult): void {
    for (const waiter of [...(this.#held.get(requestId) ?? [])]) waiter.resolve(result);
  }

  #remove(requestId: string, waiter: Waiter): void {
    const set = this.#held.get(requestId);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.#held.delete(requestId);
  }

  /** Releases every held caller with "shutdown", so each gets a retryable answer instead of a cut connection. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const set of [...this.#held.values()]) for (const waiter of [...set]) waiter.resolve("shutdown");
  }
}
