import type { DoneMessage, Outcome } from "@batch-gpt/contracts";
import type { Peeked, RecentAnswers } from "@batch-gpt/queue";
import type { RequestStore } from "@batch-gpt/store";
import type { LostCheck } from "./lost-check.ts";

/** "lost": the request exists nowhere any more; "shutdown": this process is stopping (the request goes on). */
export type WaitResult = Outcome | "lost" | "shutdown";

const RECHECK_CHUNK = 500;

interface Waiter {
  resolve(result: WaitResult): void;
  since: number;
}

/**
 * Callers held open until their request is answered. One map per process from request id to its
 * waiters. A wake-up carries the outcome (or says where to read it), and answers every waiter of that
 * id at once; registering happens before anything is read, so an answer published in between is not
 * missed. Redis is read first everywhere; MongoDB only for a large answer, an attach to a request that
 * may have finished long ago, or the periodic re-check.
 */
export class Waiters {
  readonly #held = new Map<string, Set<Waiter>>();
  readonly #requests: RequestStore;
  readonly #recent: RecentAnswers;
  readonly #isLost: LostCheck;
  readonly #lostGraceMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: {
    requests: RequestStore;
    recent: RecentAnswers;
    isLost: LostCheck;
    recheckMs: number;
    lostGraceMs?: number;
  }) {
    this.#requests = opts.requests;
    this.#recent = opts.recent;
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
   * `attached`: the caller joined a request it did not queue, which may have finished a while ago.
   */
  wait(requestId: string, signal?: AbortSignal, opts: { attached?: boolean } = {}): Promise<WaitResult> {
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
      void this.#firstCheck(requestId, opts.attached === true);
    });
  }

  /** Called for every "done" message: the outcome it carries, else one read for all waiters of the id. */
  onDone(message: DoneMessage): void {
    if (!this.#held.has(message.requestId)) return;
    if (message.outcome) this.#resolveAll(message.requestId, message.outcome);
    else void this.#checkStore(message.requestId);
  }

  /**
   * After a Redis reconnect and on a timer: messages published meanwhile may have been lost. Redis
   * first, then one MongoDB query per few hundred held requests it does not know (on FerretDB v1 every
   * lookup that misses scans the collection, and most held requests are still pending).
   */
  async recheckAll(): Promise<void> {
    const ids = [...this.#held.keys()];
    for (let i = 0; i < ids.length; i += RECHECK_CHUNK) {
      const chunk = ids.slice(i, i + RECHECK_CHUNK);
      const peeked = await this.#recent.peekMany(chunk).catch(() => chunk.map(() => null));
      const unknown: string[] = [];
      chunk.forEach((id, index) => {
        const seen = peeked[index];
        if (seen && seen !== "stored") this.#resolveAll(id, seen);
        else unknown.push(id);
      });
      if (unknown.length === 0) continue;
      const found = await this.#requests.outcomes(unknown).catch(() => null);
      if (!found) return;
      const byId = new Map(found.map((outcome) => [outcome._id, outcome]));
      for (const id of unknown) {
        const outcome = byId.get(id);
        if (outcome) this.#resolveAll(id, outcome);
        else await this.#checkLost(id);
      }
    }
  }

  async #firstCheck(requestId: string, attached: boolean): Promise<void> {
    const peeked: Peeked = await this.#recent.peek(requestId).catch(() => "stored" as const);
    if (peeked && peeked !== "stored") this.#resolveAll(requestId, peeked);
    else if (peeked === "stored" || attached) await this.#checkStore(requestId);
  }

  async #checkStore(requestId: string): Promise<void> {
    const set = this.#held.get(requestId);
    if (!set || set.size === 0) return;
    const outcome = await this.#requests.outcome(requestId).catch(() => null);
    if (outcome) this.#resolveAll(requestId, outcome);
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
