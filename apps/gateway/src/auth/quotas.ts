import { ApiError, type RedisKeys } from "@batch-gpt/contracts";
import { type RedisScripts, scriptCommands } from "@batch-gpt/queue";
import type { Redis } from "ioredis";
import type { Caller } from "./key-ring.ts";

// One admission, atomically, on Redis's clock (one clock for every gateway):
//  - pending: a sorted set of the key's pending callers, scored by when their lease ends; expired
//    leases are dropped first (a gateway that died holding callers frees their places by itself).
//  - rate: a token bucket holding up to `rpm` tokens, refilled at rpm per minute.
// The pending check comes first, so a refusal for it spends no token. An empty member (ARGV[3]) is a
// request answered as it is admitted (a cache hit): checked and counted alike, but no place is taken,
// since it would be given back at once. Returns {0, 0} when admitted, or
// {1 = too many pending | 2 = rate, milliseconds to wait}.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxPending = tonumber(ARGV[2])
if maxPending >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= maxPending then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {1, math.max(1, tonumber(first[2]) - now)}
  end
end
local rpm = tonumber(ARGV[1])
if rpm >= 0 then
  local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
  local tokens = tonumber(bucket[1]) or rpm
  local at = tonumber(bucket[2]) or now
  tokens = math.min(rpm, tokens + (now - at) * rpm / 60000)
  if tokens < 1 then
    return {2, math.ceil((1 - tokens) * 60000 / math.max(rpm, 1))}
  end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[1], 60000)
end
if maxPending >= 0 and ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
end
return {0, 0}`;

// Extends the leases of callers still held (ZADD XX: a lease already released stays released).
// (`until` is a Lua keyword: a variable of that name kept the script from compiling.)
const RENEW = `
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', expires, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 0`;

/**
 * The quotas' scripts, defined on the gateway's connection when it is created (`createRedis`). Not
 * `batchGptRenew`: that is the dedup claims' own script (Inflight), on the same connection.
 */
export const quotaScripts: RedisScripts = {
  batchGptAdmit: { numberOfKeys: 2, lua: ADMIT },
  batchGptRenewLeases: { numberOfKeys: 1, lua: RENEW },
};

interface QuotaCommands {
  batchGptAdmit(
    rate: string,
    pending: string,
    rpm: number,
    maxPending: number,
    member: string,
    leaseMs: number,
  ): Promise<[number, number]>;
  batchGptRenewLeases(pending: string, leaseMs: number, ...members: string[]): Promise<number>;
}

/** A place among a key's pending requests, given back when its caller has been answered. */
export interface PendingLease {
  /** Resolves once the place is free (the caller's answer is sent after that, so its next request fits). */
  release(): Promise<void>;
}

const NO_LEASE: PendingLease = { release: async () => {} };

/**
 * Per-key quotas, kept in Redis so they hold across every gateway: requests per minute, and requests
 * pending (from acceptance until the caller is answered; attached callers count too). A held caller's
 * place is leased for `leaseMs` and renewed while it waits, so a gateway that dies frees its places by
 * itself. An async request's place lasts `asyncLeaseMs` unless freed when its answer is fetched.
 */
export class Quotas {
  readonly #redis: Redis & QuotaCommands;
  readonly #keys: RedisKeys;
  readonly #leaseMs: number;
  /** Held places by key id, renewed together. */
  readonly #held = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | undefined;
  #sequence = 0;
  /** Places given back in this turn of the event loop, freed together. */
  #freeing = new Map<string, string[]>();
  #freed: Promise<void> | undefined;

  readonly #onRenewError: (err: unknown) => void;

  /** `onRenewError`: told when renewing held places fails (they lapse after `leaseMs` unless renewed). */
  constructor(
    redis: Redis,
    keys: RedisKeys,
    opts: { leaseMs: number; onRenewError?: (err: unknown) => void },
  ) {
    this.#redis = scriptCommands<QuotaCommands>(redis, quotaScripts);
    this.#keys = keys;
    this.#leaseMs = opts.leaseMs;
    this.#onRenewError = opts.onRenewError ?? (() => {});
    this.#timer = setInterval(() => void this.#renew(), Math.max(50, Math.floor(opts.leaseMs / 3)));
    this.#timer.unref();
  }

  /**
   * Admits one request of `caller`, or throws OpenAI's 429 with `retry-after`. `held`: the place is
   * renewed until released (a held caller); otherwise it lasts `ttlMs` or until released by id.
   */
  async admit(caller: Caller, opts: { held: boolean; ttlMs?: number; id?: string }): Promise<PendingLease> {
    if (caller.rpm === null && caller.maxPending === null) return NO_LEASE;
    const member = opts.id ?? `${process.pid}:${++this.#sequence}:${Date.now()}`;
    await this.#admit(caller, member, opts.held ? this.#leaseMs : (opts.ttlMs ?? this.#leaseMs));
    if (caller.maxPending === null) return NO_LEASE;
    if (!opts.held) return { release: () => this.free(caller.keyId, member) };
    const held = this.#held.get(caller.keyId) ?? new Set<string>();
    this.#held.set(caller.keyId, held);
    held.add(member);
    return {
      release: () => {
        held.delete(member);
        if (held.size === 0) this.#held.delete(caller.keyId);
        return this.free(caller.keyId, member);
      },
    };
  }

  /**
   * Admits a request that is answered as it is admitted (a cache hit), or throws as `admit` does: the
   * same checks, and the same token spent, but no place among the key's pending requests is taken, as
   * it would be given back at once. One Redis command, where `admit` and `release` take two.
   */
  async admitAnswered(caller: Caller): Promise<void> {
    if (caller.rpm === null && caller.maxPending === null) return;
    await this.#admit(caller, "", this.#leaseMs);
  }

  async #admit(caller: Caller, member: string, leaseMs: number): Promise<void> {
    const [refused, waitMs] = await this.#redis.batchGptAdmit(
      this.#keys.quotaRate(caller.keyId),
      this.#keys.quotaPending(caller.keyId),
      caller.rpm ?? -1,
      caller.maxPending ?? -1,
      member,
      leaseMs,
    );
    if (refused) throw overQuota(refused === 1 ? "pending" : "rate", caller, waitMs);
  }

  /**
   * Gives a place back (a finished async request's, or a held caller's). The places given back in one
   * turn of the event loop are freed together, one command per key: under load a release costs a
   * fraction of a Redis command instead of one per request.
   */
  free(keyId: string, member: string): Promise<void> {
    const members = this.#freeing.get(keyId);
    if (members) members.push(member);
    else this.#freeing.set(keyId, [member]);
    this.#freed ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flushFreed());
    return this.#freed;
  }

  async #flushFreed(): Promise<void> {
    this.#freed = undefined;
    const freeing = this.#freeing;
    this.#freeing = new Map();
    await Promise.all(
      [...freeing].map(([keyId, members]) =>
        this.#redis.zrem(this.#keys.quotaPending(keyId), ...members).catch(() => {}),
      ),
    );
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#freed;
  }

  async #renew(): Promise<void> {
    for (const [keyId, members] of this.#held) {
      if (members.size === 0) continue;
      await this.#redis
        .batchGptRenewLeases(this.#keys.quotaPending(keyId), this.#leaseMs, ...members)
        .catch(this.#onRenewError);
    }
  }
}

function overQuota(which: "pending" | "rate", caller: Caller, waitMs: number): ApiError {
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  const message =
    which === "rate"
      ? `Rate limit reached for this key: ${caller.rpm} requests per minute. Please try again in ${retryAfter}s.`
      : `Too many pending requests for this key: ${caller.maxPending} at once. Please try again once some are answered.`;
  return new ApiError(429, message, {
    type: "requests",
    code: which === "rate" ? "rate_limit_exceeded" : "too_many_pending_requests",
    headers: { "retry-after": String(retryAfter) },
  });
}
