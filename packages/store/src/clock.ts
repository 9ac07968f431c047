import type { Db } from "mongodb";

/** Where a time is read: every host judging staleness must read the same one. */
export interface Clock {
  now(): Promise<Date>;
}

/** This host's clock: for tools and tests that judge nothing across hosts. */
export const hostClock: Clock = { now: async () => new Date() };

/** How often the offset to the database's clock is measured again (hosts' clocks drift slowly). */
const RESYNC_MS = 60_000;

/**
 * The database's clock, read through this host's: the offset between them is measured with `hello`
 * (its `localTime`, against the middle of the round trip) and measured again every minute. Heartbeats
 * and the staleness judged from them are then on one clock, whatever each host's says: a collator whose
 * clock runs ten minutes late must not look dead to the others, nor a dead one alive.
 */
export class DbClock implements Clock {
  readonly #db: Db;
  #offsetMs = 0;
  #syncedAt = Number.NEGATIVE_INFINITY;
  #syncing: Promise<void> | null = null;

  constructor(db: Db) {
    this.#db = db;
  }

  async now(): Promise<Date> {
    if (performance.now() - this.#syncedAt > RESYNC_MS) {
      this.#syncing ??= this.#sync().finally(() => {
        this.#syncing = null;
      });
      await this.#syncing;
    }
    return new Date(Date.now() + this.#offsetMs);
  }

  async #sync(): Promise<void> {
    const before = Date.now();
    let reply: { localTime?: unknown };
    try {
      reply = await this.#db.command({ hello: 1 });
    } catch {
      return; // The database is out of reach: the last offset stands, and the write that follows fails.
    }
    const after = Date.now();
    if (reply.localTime instanceof Date) this.#offsetMs = reply.localTime.getTime() - (before + after) / 2;
    this.#syncedAt = performance.now();
  }
}
