import { hostname } from "node:os";
import type { Logger } from "@batch-gpt/config";
import type { AdminKeys } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";

/** How often each gateway adds its counts to the deployment's and says how many callers it holds. */
export const REPORT_INTERVAL_MS = 2000;
/** A gateway whose report is older than this is gone (stopped or dead): its held callers are not counted. */
export const REPORT_STALE_MS = 5 * REPORT_INTERVAL_MS;

/**
 * This gateway's share of the deployment-wide figures the admin API shows. Counting in memory and
 * reporting every REPORT_INTERVAL_MS keeps Redis off the request path (a cache hit stays one Redis
 * command): the counters are HINCRBY'd, the held callers written under this gateway's id with the time.
 */
export class AdminReporter {
  readonly #redis: Redis;
  readonly #keys: AdminKeys;
  readonly #gatewayId: string;
  readonly #held: () => number;
  readonly #log: Logger;
  #hits = 0;
  #misses = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: { redis: Redis; keys: AdminKeys; heldCallers: () => number; log: Logger }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#gatewayId = `gateway-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.#held = opts.heldCallers;
    this.#log = opts.log;
  }

  /** A cache lookup's result (requests sent with `Cache-Control: no-cache` make none). */
  cacheLookup(hit: boolean): void {
    if (hit) this.#hits++;
    else this.#misses++;
  }

  start(): void {
    this.#timer = setInterval(() => void this.report(), REPORT_INTERVAL_MS);
    this.#timer.unref();
    void this.report();
  }

  async report(): Promise<void> {
    const [hits, misses] = [this.#hits, this.#misses];
    this.#hits = 0;
    this.#misses = 0;
    const batch = this.#redis.multi();
    if (hits) batch.hincrby(this.#keys.counters, "cache_hits", hits);
    if (misses) batch.hincrby(this.#keys.counters, "cache_misses", misses);
    batch.hset(this.#keys.heldCallers, this.#gatewayId, `${this.#held()} ${Date.now()}`);
    // Kept alive by the gateways' reports: once none is left, the key goes too (readers drop stale fields).
    batch.pexpire(this.#keys.heldCallers, 10 * REPORT_STALE_MS);
    try {
      await batch.exec();
    } catch (err) {
      // Counted again next time rather than lost.
      this.#hits += hits;
      this.#misses += misses;
      this.#log.warn({ err: String(err) }, "admin figures not reported");
    }
  }

  /** Reports the last counts and withdraws this gateway's held callers. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.report();
    await this.#redis.hdel(this.#keys.heldCallers, this.#gatewayId).catch(() => {});
  }
}
