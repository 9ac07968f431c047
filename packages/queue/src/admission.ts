import type { RedisKeys } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";
import { type RedisScripts, scriptCommands } from "./scripts.ts";

// Jobs a collator took: each leaves the admitted jobs (KEYS[1]) and its bytes their count (KEYS[2]).
// Taking one twice (a job fetched again) frees it once. ARGV: the job ids.
const TAKEN = `
local freed = 0
for _, id in ipairs(ARGV) do
  local entry = redis.call('HGET', KEYS[1], id)
  if entry then
    redis.call('HDEL', KEYS[1], id)
    redis.call('DECRBY', KEYS[2], tonumber(string.match(entry, '^(%d+)')))
    freed = freed + 1
  end
end
return freed`;

// One step of the reconcile: the admitted jobs from cursor ARGV[1] whose job (ARGV[2] .. id) is gone
// although they were admitted before ARGV[3] (epoch ms) leave (a gateway that died between admitting a
// request and adding its job, a take that never reached Redis). With none left, the byte count is
// reset: whatever drift it had is gone. Returns [next cursor, entries dropped].
const RECONCILE = `
local step = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', 500)
local fields = step[2]
local dropped = 0
for i = 1, #fields, 2 do
  local bytes, at = string.match(fields[i + 1], '^(%d+):(%d+)$')
  if (not at or tonumber(at) < tonumber(ARGV[3])) and redis.call('EXISTS', ARGV[2] .. fields[i]) == 0 then
    redis.call('HDEL', KEYS[1], fields[i])
    redis.call('DECRBY', KEYS[2], tonumber(bytes or '0'))
    dropped = dropped + 1
  end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SET', KEYS[2], '0') end
return { step[1], dropped }`;

interface AdmissionCommands {
  batchGptTaken(admitted: string, admittedBytes: string, ...jobIds: string[]): Promise<number>;
  batchGptReconcile(
    admitted: string,
    admittedBytes: string,
    cursor: string,
    jobPrefix: string,
    before: number,
  ): Promise<[string, number]>;
}

/** Admission's scripts: every connection `createRedis` makes has them. */
export const admissionScripts: RedisScripts = {
  batchGptTaken: { numberOfKeys: 2, lua: TAKEN },
  batchGptReconcile: { numberOfKeys: 2, lua: RECONCILE },
};

/** How long a request may be admitted without its job before the reconcile drops it. */
const GRACE_MS = 60_000;

/**
 * The collator's side of admission control (the gateway admits requests in its claim script,
 * `Inflight`): jobs it takes leave the admitted count, so new requests are accepted again; and a
 * periodic reconcile drops entries whose job is gone, so a leak cannot shrink the queue for good.
 */
export class Admission {
  readonly #redis: Redis & AdmissionCommands;
  readonly #keys: RedisKeys;
  /** `<prefix>:collate:`: a job's hash is this and its id. */
  readonly #jobPrefix: string;

  constructor(redis: Redis, keys: RedisKeys, jobPrefix: string) {
    this.#redis = scriptCommands<AdmissionCommands>(redis, admissionScripts);
    this.#keys = keys;
    this.#jobPrefix = jobPrefix;
  }

  /** Frees the places of jobs a collator took (one command for all of them). */
  async taken(jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.#redis.batchGptTaken(this.#keys.admitted, this.#keys.admittedBytes, ...jobIds);
  }

  /** Drops the entries whose job is gone (in steps of 500, so Redis is never blocked for long). */
  async reconcile(now = Date.now()): Promise<number> {
    let cursor = "0";
    let dropped = 0;
    do {
      const [next, n] = await this.#redis.batchGptReconcile(
        this.#keys.admitted,
        this.#keys.admittedBytes,
        cursor,
        this.#jobPrefix,
        now - GRACE_MS,
      );
      cursor = String(next);
      dropped += Number(n);
    } while (cursor !== "0");
    return dropped;
  }

  /** The requests admitted and waiting for a collator, and their bytes. */
  async figures(): Promise<{ requests: number; bytes: number }> {
    const [requests, bytes] = await Promise.all([
      this.#redis.hlen(this.#keys.admitted),
      this.#redis.get(this.#keys.admittedBytes),
    ]);
    return { requests, bytes: Number(bytes ?? 0) };
  }
}
