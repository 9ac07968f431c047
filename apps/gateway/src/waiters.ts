import type { DoneMessage, Outcome } from "@batch-gpt/contracts";
import type { Peeked, RecentAnswers } from "@batch-gpt/queue";
import type { RequestStore } from "@batch-gpt/store";
import type { LocateMany, Whereabouts } from "./locate.ts";

/** "lost": the request exists nowhere any more; "shutdown": this process is stopping (the request goes on). */
export type WaitResult = Outcome | "lost" | "shutdown";

const RECHECK_CHUNK = 500;

interface Waiter {
  resolve(result: WaitResult): void;
  since: number;
}

/** The waiters of one request; `recorded` once the store has it (it cannot get lost any more). */
interface Held {
  waiters: Set<Waiter>;
  recorded: boolean;
}

/**
 * Callers held open until their request is answered. One map per process from request id to its
 * waiters. A wake-up carries the outcome (or says where to read it), and answers every waiter of that
 * id at once; registering happens before anything is read, so an answer published in between is not
 * missed. Redis is read first everywhere; MongoDB only for a large answer, an attach to a request that
 * may have finished long ago, or the periodic re-check.
 */
export class Waiters {
  readonly #held = new Map<string, Held>();
  readonly #requests: RequestStore;
  readonly #recent: RecentAnswers;
  readonly #locate: LocateMany;
  readonly #lostGraceMs: number;
  readonly #storeAfterMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: {
    requests: RequestStore;
    recent: RecentAnswers;
    /** Where long-held requests are: many at once (see `manyLocator`). */
    locate: LocateMany;
    recheckMs: number;
    lostGraceMs?: number;
    /**
     * The timed re-check reads MongoDB only for callers held longer than this: before, an answer
     * whose wake-up was missed is still in Redis (set it below ANSWER_REDIS_TTL_SECONDS).
     */
    storeAfterMs?: number;
  }) {
    this.#requests = opts.requests;
    this.#recent = opts.recent;
    this.#locate = opts.locate;
    this.#lostGraceMs = opts.lostGraceMs ?? opts.recheckMs;
    this.#storeAfterMs = opts.storeAfterMs ?? 0;
    this.#timer = setInterval(() => void this.#recheck(false), opts.recheckMs);
    this.#timer.unref();
  }

  get size(): number {
    let n = 0;
    for (const held of this.#held.values()) n += held.waiters.size;
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
      let held = this.#held.get(requestId);
      if (!held) {
        held = { waiters: new Set(), recorded: false };
        this.#held.set(requestId, held);
      }
      held.waiters.add(waiter);
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
   * After a Redis reconnect: messages published meanwhile may have been lost. Redis first, then one
   * MongoDB query per few hundred held requests it does not know (on FerretDB v1 every lookup scans the
   * collection, and most held requests are still pending).
   */
  recheckAll(): Promise<void> {
    return this.#recheck(true);
  }

  /** `full`: MongoDB for every request Redis does not know; else only for callers held long. */
  async #recheck(full: boolean): Promise<void> {
    const now = Date.now();
    const ids = [...this.#held.keys()];
    for (let i = 0; i < ids.length; i += RECHECK_CHUNK) {
      const chunk = ids.slice(i, i + RECHECK_CHUNK);
      const peeked = await this.#recent.peekMany(chunk).catch(() => chunk.map(() => null));
      const unknown: string[] = [];
      const unanswered: string[] = [];
      chunk.forEach((id, index) => {
        const seen = peeked[index];
        if (seen && seen !== "stored") this.#resolveAll(id, seen);
        else if (seen === "stored" || full || now - this.#oldest(id) >= this.#storeAfterMs) unknown.push(id);
        else unanswered.push(id);
      });
      if (unknown.length > 0) {
        const found = await this.#requests.outcomes(unknown).catch(() => null);
        if (!found) return;
        const byId = new Map(found.map((outcome) => [outcome._id, outcome]));
        for (const id of unknown) {
          const outcome = byId.get(id);
          if (outcome) this.#resolveAll(id, outcome);
          else unanswered.push(id);
        }
      }
      await this.#checkLost(unanswered);
    }
  }

  async #firstCheck(requestId: string, attached: boolean): Promise<void> {
    const peeked: Peeked = await this.#recent.peek(requestId).catch(() => "stored" as const);
    if (peeked && peeked !== "stored") this.#resolveAll(requestId, peeked);
    else if (peeked === "stored" || attached) await this.#checkStore(requestId);
  }

  /** When the longest-held caller of a request started waiting. */
  #oldest(requestId: string): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const waiter of this.#held.get(requestId)?.waiters ?? []) oldest = Math.min(oldest, waiter.since);
    return oldest;
  }

  async #checkStore(requestId: string): Promise<void> {
    const held = this.#held.get(requestId);
    if (!held || held.waiters.size === 0) return;
    const outcome = await this.#requests.outcome(requestId).catch(() => null);
    if (outcome) this.#resolveAll(requestId, outcome);
  }

  /**
   * A request held long enough, with no job and no record anywhere, will never be answered. Once the
   * store has it, it is never looked for again (on FerretDB v1 that lookup scans a collection). All the
   * requests of a re-check are looked for at once.
   */
  async #checkLost(requestIds: string[]): Promise<void> {
    const now = Date.now();
    const suspects = requestIds.filter((id) => {
      const held = this.#held.get(id);
      return held !== undefined && !held.recorded && now - this.#oldest(id) >= this.#lostGraceMs;
    });
    if (suspects.length === 0) return;
    const where = await this.#locate(suspects).catch(() => new Map<string, Whereabouts>());
    for (const id of suspects) {
      const held = this.#held.get(id);
      if (!held) continue;
      if (where.get(id) === "nowhere") this.#resolveAll(id, "lost");
      else if (where.get(id) === "recorded") held.recorded = true;
    }
  }

  #resolveAll(requestId: string, result: WaitResult): void {
    for (const waiter of [...(this.#held.get(requestId)?.waiters ?? [])]) waiter.resolve(result);
  }

  #remove(requestId: string, waiter: Waiter): void {
    const held = this.#held.get(requestId);
    if (!held) return;
    held.waiters.delete(waiter);
    if (held.waiters.size === 0) this.#held.delete(requestId);
  }

  /** Releases every held caller with "shutdown", so each gets a retryable answer instead of a cut connection. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const held of [...this.#held.values()])
      for (const waiter of [...held.waiters]) waiter.resolve("shutdown");
  }
}
