import type { RedisKeys } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";
import { type RedisScripts, scriptCommands } from "./scripts.ts";

// Attach-or-claim in one round trip: the first request with a key leads it; later identical ones
// get the leader's id back and wait on that request instead of becoming a second batch line. With
// ARGV[3] = '1' it first looks at the key's cached marker (KEYS[2]): nil means "the cache has it".
// A new leader is admitted too, in the same round trip: with ARGV[5] bytes of body, it enters the
// admitted jobs (KEYS[3], a hash) and their byte count (KEYS[4]) unless that would pass ARGV[6]
// requests or ARGV[7] bytes (an empty queue takes any one request): then '!full', and nothing claimed.
// ARGV[5] = 0: a claim that queues no job of its own (nothing admitted).
const CLAIM = `
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return false end
local current = redis.call('GET', KEYS[1])
if current then return current end
local bytes = tonumber(ARGV[5])
if bytes > 0 then
  if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[6]) then return '!full' end
  local queued = tonumber(redis.call('GET', KEYS[4]) or '0')
  if queued > 0 and queued + bytes > tonumber(ARGV[7]) then return '!full' end
  redis.call('HSET', KEYS[3], ARGV[1], bytes .. ':' .. ARGV[4])
  redis.call('INCRBY', KEYS[4], bytes)
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]`;

// Release only our own claim: a newer attempt may own the key already. A request still admitted
// (its job was never added) leaves the admitted jobs (KEYS[2], KEYS[3]).
const RELEASE = `
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if entry then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DECRBY', KEYS[3], tonumber(string.match(entry, '^(%d+)')))
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// A finished request: mark its key cached (when it succeeded) for ARGV[3] seconds, then release its
// claim, in one round trip.
const SETTLE = `
if ARGV[2] == '1' then redis.call('SET', KEYS[2], '1', 'EX', ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// A resubmitted request keeps its claim for a whole life again (only if it still holds it).
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** What `claim` answers instead of a leader when the queue is full (never a request id). */
export const QUEUE_FULL = "!full";

/** The scripts as commands of the connection: sent by their SHA (EVALSHA), not their text, each call. */
interface ScriptCommands {
  batchGptClaim(
    inflight: string,
    cached: string,
    admitted: string,
    admittedBytes: string,
    requestId: string,
    ttlSeconds: number,
    unlessCached: string,
    nowMs: number,
    bodyBytes: number,
    maxRequests: number,
    maxBytes: number,
  ): Promise<string | null>;
  batchGptRelease(key: string, admitted: string, admittedBytes: string, requestId: string): Promise<number>;
  batchGptSettle(
    inflight: string,
    cached: string,
    requestId: string,
    isCached: string,
    markerTtlSeconds: number,
  ): Promise<number>;
  batchGptRenew(key: string, requestId: string, ttlSeconds: number): Promise<number>;
}

/** The dedup claims' scripts: every connection `createRedis` makes has them. */
export const inflightScripts: RedisScripts = {
  batchGptClaim: { numberOfKeys: 4, lua: CLAIM },
  batchGptRelease: { numberOfKeys: 3, lua: RELEASE },
  batchGptSettle: { numberOfKeys: 2, lua: SETTLE },
  batchGptRenew: { numberOfKeys: 1, lua: RENEW },
};

/**
 * In-flight dedup: requestKey → pending request id. The key outlives any batch (TTL well past the
 * 24 h completion window, renewed on each resubmission) and is released when the request reaches a
 * terminal state. The `cached` markers it sets live `markerTtlSeconds` (CACHE_MARKER_TTL_SECONDS):
 * every key it writes has a bounded life.
 */
export class Inflight {
  readonly #redis: Redis & ScriptCommands;
  readonly #keys: RedisKeys;
  readonly #ttlSeconds: number;
  readonly #markerTtlSeconds: number;
  readonly #maxQueuedRequests: number;
  readonly #maxQueuedBytes: number;

  constructor(
    redis: Redis,
    keys: RedisKeys,
    opts: {
      ttlSeconds?: number;
      markerTtlSeconds?: number;
      /** MAX_QUEUED_REQUESTS and MAX_QUEUED_BYTES: new requests past them are refused (`QUEUE_FULL`). */
      maxQueuedRequests?: number;
      maxQueuedBytes?: number;
    } = {},
  ) {
    this.#redis = scriptCommands<ScriptCommands>(redis, inflightScripts);
    this.#keys = keys;
    this.#ttlSeconds = opts.ttlSeconds ?? 4 * 24 * 3600;
    this.#markerTtlSeconds = opts.markerTtlSeconds ?? 30 * 24 * 3600;
    this.#maxQueuedRequests = opts.maxQueuedRequests ?? Number.MAX_SAFE_INTEGER;
    this.#maxQueuedBytes = opts.maxQueuedBytes ?? Number.MAX_SAFE_INTEGER;
  }

  /**
   * Returns the id of the request leading `key` (the one identical requests attach to): `requestId`
   * when this call claimed it (and admitted its `bodyBytes`), or `QUEUE_FULL` when a new request would
   * pass the queue's bounds.
   */
  async claim(key: string, requestId: string, bodyBytes = 0): Promise<string> {
    return (await this.claimUnlessCached(key, requestId, false, bodyBytes)) as string;
  }

  /**
   * `claim`, but null (and nothing claimed) when `checkCache` and the key's answer is in the cache:
   * one round trip where looking at the marker first would take two.
   */
  claimUnlessCached(
    key: string,
    requestId: string,
    checkCache: boolean,
    bodyBytes = 0,
  ): Promise<string | null> {
    return this.#redis.batchGptClaim(
      this.#keys.inflight(key),
      this.#keys.cached(key),
      this.#keys.admitted,
      this.#keys.admittedBytes,
      requestId,
      this.#ttlSeconds,
      checkCache ? "1" : "0",
      Date.now(),
      bodyBytes,
      this.#maxQueuedRequests,
      this.#maxQueuedBytes,
    );
  }

  async leader(key: string): Promise<string | null> {
    return this.#redis.get(this.#keys.inflight(key));
  }

  /** Whether the cache holds an answer for `key` (then, and only then, is it worth reading MongoDB). */
  async isCached(key: string): Promise<boolean> {
    return (await this.#redis.exists(this.#keys.cached(key))) === 1;
  }

  /** Called once the outcome is stored (and cached, when `cached`): identical requests may go on. */
  async settle(key: string, requestId: string, cached: boolean): Promise<void> {
    await this.#redis.batchGptSettle(
      this.#keys.inflight(key),
      this.#keys.cached(key),
      requestId,
      cached ? "1" : "0",
      this.#markerTtlSeconds,
    );
  }

  /** A resubmitted request's claim lives a whole life again, so it outlives the request. */
  async renew(key: string, requestId: string): Promise<void> {
    await this.#redis.batchGptRenew(this.#keys.inflight(key), requestId, this.#ttlSeconds);
  }

  /** `settle` for many finished requests, in one round trip. */
  async settleMany(items: { key: string; requestId: string; cached: boolean }[]): Promise<void> {
    if (items.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const { key, requestId, cached } of items) {
      (pipeline as unknown as ScriptCommands).batchGptSettle(
        this.#keys.inflight(key),
        this.#keys.cached(key),
        requestId,
        cached ? "1" : "0",
        this.#markerTtlSeconds,
      );
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async release(key: string, requestId: string): Promise<void> {
    await this.#redis.batchGptRelease(
      this.#keys.inflight(key),
      this.#keys.admitted,
      this.#keys.admittedBytes,
      requestId,
    );
  }
}
