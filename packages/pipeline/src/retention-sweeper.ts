import { type Logger, type Repeating, repeat } from "@batch-gpt/config";
import { expiredAnswer, type RedisKeys } from "@batch-gpt/contracts";
import { type createRedis, forgetCopies } from "@batch-gpt/queue";
import type { Page, Store } from "@batch-gpt/store";

const DAY_MS = 24 * 3600 * 1000;

type Redis = ReturnType<typeof createRedis>;

/** How long each kind of data is kept; an absent window keeps it for ever. */
export interface RetentionWindows {
  /** A finished request's body, after it finished (RETAIN_REQUEST_BODIES_DAYS). */
  requestBodiesDays?: number | undefined;
  /** A finished request's answer, after it finished (RETAIN_ANSWERS_DAYS). */
  answersDays?: number | undefined;
  /** A `done` batch record, after it was last written (RETAIN_BATCHES_DAYS). */
  batchesDays?: number | undefined;
  /** An async call record of a finished request, after the call (RETAIN_CALLS_DAYS). */
  callsDays?: number | undefined;
  /**
   * A cache entry, after it was stored (CACHE_TTL_SECONDS: older ones answer no one). Entries older
   * than `answersDays` go too.
   */
  cacheTtlSeconds?: number | undefined;
}

/** What one sweep removed, by kind. */
export interface SweepTally {
  bodies: number;
  answers: number;
  batches: number;
  calls: number;
  cacheEntries: number;
}

/**
 * Applies the retention windows: a page at a time (every query but a lookup by `_id` scans a collection
 * on FerretDB v1, so a page is one query over it), up to `maxPages` pages of each kind per sweep (the
 * rest waits for the next), dropping the Redis copies of what it let go. Several pollers may sweep at
 * once: every step can be repeated.
 */
export class RetentionSweeper {
  readonly #store: Store;
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #windows: RetentionWindows;
  readonly #log: Logger;
  readonly #maxPages: number;
  #repeating: Repeating | undefined;

  constructor(opts: {
    store: Store;
    redis: Redis;
    keys: RedisKeys;
    windows: RetentionWindows;
    log: Logger;
    maxPages?: number;
  }) {
    this.#store = opts.store;
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#windows = opts.windows;
    this.#log = opts.log;
    this.#maxPages = opts.maxPages ?? 200;
  }

  /** Whether any window is set (with none, there is nothing to sweep: today's keep-for-ever). */
  get enabled(): boolean {
    return Object.values(this.#windows).some((w) => w !== undefined);
  }

  /** Sweeps now, then every `intervalMs`; a sweep still running when the next is due is not doubled. */
  start(intervalMs: number): void {
    if (!this.enabled) return;
    const sweep = () =>
      this.sweep().catch((err) =>
        this.#log.error({ err }, "retention sweep failed; the next one tries again"),
      );
    this.#repeating = repeat(sweep, intervalMs);
  }

  async stop(): Promise<void> {
    await this.#repeating?.stop();
    this.#repeating = undefined;
  }

  async sweep(now = Date.now()): Promise<SweepTally> {
    const w = this.#windows;
    const r = this.#store.retention;
    const before = (ms: number) => new Date(now - ms);
    const tally: SweepTally = { bodies: 0, answers: 0, batches: 0, calls: 0, cacheEntries: 0 };
    if (w.requestBodiesDays !== undefined) {
      const cutoff = before(w.requestBodiesDays * DAY_MS);
      tally.bodies = await this.#pages(() => r.blankBodies(cutoff));
    }
    if (w.answersDays !== undefined) {
      const cutoff = before(w.answersDays * DAY_MS);
      const answer = expiredAnswer(w.answersDays);
      tally.answers = await this.#pages(() => r.replaceAnswers(cutoff, answer));
    }
    if (w.batchesDays !== undefined) {
      const cutoff = before(w.batchesDays * DAY_MS);
      tally.batches = await this.#pages(() => r.deleteBatches(cutoff));
    }
    if (w.callsDays !== undefined) {
      const cutoff = before(w.callsDays * DAY_MS);
      let after: string | null = null;
      tally.calls = await this.#pages(async () => {
        const page = await r.deleteCalls(cutoff, after);
        after = page.last;
        return page;
      });
    }
    // A cache entry holds (or points at) an answer: it goes once it is older than CACHE_TTL_SECONDS (it
    // answers no one) or than RETAIN_ANSWERS_DAYS (no answer is kept longer), whichever comes first.
    const cacheMs = [
      w.cacheTtlSeconds === undefined ? undefined : w.cacheTtlSeconds * 1000,
      w.answersDays === undefined ? undefined : w.answersDays * DAY_MS,
    ].filter((ms) => ms !== undefined);
    if (cacheMs.length > 0) {
      const cutoff = before(Math.min(...cacheMs));
      tally.cacheEntries = await this.#pages(() => r.deleteCache(cutoff));
    }
    if (Object.values(tally).some((n) => n > 0)) this.#log.info({ ...tally }, "retention sweep");
    return tally;
  }

  /** Runs `step` page after page (its Redis copies dropped after each), up to `maxPages`. */
  async #pages(step: () => Promise<Page>): Promise<number> {
    let count = 0;
    for (let n = 0; n < this.#maxPages; n++) {
      const page = await step();
      count += page.count;
      await forgetCopies(this.#redis, this.#keys, page.removed);
      if (!page.more) break;
    }
    return count;
  }
}
