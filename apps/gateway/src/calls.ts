import type { Logger } from "@batch-gpt/config";
import type { CallDoc, RedisKeys } from "@batch-gpt/contracts";
import type { Store } from "@batch-gpt/store";
import type { Redis } from "ioredis";

/** Calls written to MongoDB per command. */
const FLUSH_CHUNK = 500;
/**
 * How long a call waits for others to go to MongoDB with it (a full chunk goes at once). On FerretDB
 * each insert command costs far more than each document in it: at 50 ms, async intake spent about
 * 200 µs of FerretDB's CPU per call on these inserts; at 250 ms, a fraction of that.
 */
const FLUSH_MS = 250;

/**
 * Async calls: the id a caller holds, pointing at the request that answers it. An async call is
 * answered 202 once its call is in Redis (`call:<id>`, kept CALL_REDIS_TTL_SECONDS); MongoDB, the
 * system of record, gets the calls in bulk a moment later (a write per call would cost every async
 * request a MongoDB round trip). Reads try Redis first.
 */
export class CallRegistry {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #ttlSeconds: number;
  readonly #flushMs: number;
  #pending: CallDoc[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(opts: {
    redis: Redis;
    keys: RedisKeys;
    store: Store;
    log: Logger;
    ttlSeconds: number;
    flushMs?: number;
  }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#store = opts.store;
    this.#log = opts.log;
    this.#ttlSeconds = opts.ttlSeconds;
    this.#flushMs = opts.flushMs ?? FLUSH_MS;
  }

  async record(call: CallDoc): Promise<void> {
    const stored = { ...call, createdAt: call.createdAt.getTime() };
    await this.#redis.set(this.#keys.call(call._id), JSON.stringify(stored), "EX", this.#ttlSeconds);
    this.#pending.push(call);
    // A chunk's worth goes at once (once per chunk: a flush under way takes whatever came meanwhile).
    if (this.#pending.length % FLUSH_CHUNK === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      void this.flush();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#flushMs);
  }

  async get(id: string): Promise<CallDoc | null> {
    const hot = await this.#redis.get(this.#keys.call(id));
    if (hot) {
      const call = JSON.parse(hot) as Omit<CallDoc, "createdAt"> & { createdAt: number };
      return { ...call, createdAt: new Date(call.createdAt) };
    }
    return this.#store.calls.get(id);
  }

  /** Writes the calls recorded so far to MongoDB; a failed write is tried again at the next flush. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      while (this.#pending.length > 0) {
        const chunk = this.#pending.slice(0, FLUSH_CHUNK);
        try {
          await this.#store.calls.insertMany(chunk);
          this.#pending = this.#pending.slice(chunk.length);
        } catch (err) {
          this.#log.error(
            { err, calls: chunk.length },
            "writing async calls to the store failed; will retry",
          );
          this.#timer ??= setTimeout(() => {
            this.#timer = undefined;
            void this.flush();
          }, 1000);
          return;
        }
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
