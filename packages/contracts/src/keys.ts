import type { Outcome } from "./records.ts";

/**
 * Redis key and channel names. Everything lives under one prefix; a prefix wrapped in braces
 * (`{batchgpt}`) keeps every key in one Redis Cluster slot, as BullMQ needs.
 */
export function redisKeys(prefix: string) {
  return {
    /** requestKey → id of the pending request that identical requests attach to. */
    inflight: (key: string) => `${prefix}:inflight:${key}`,
    /**
     * requestKey → "1" once its answer is in the cache. A miss is answered here, in Redis, without a
     * MongoDB lookup: on FerretDB v1 a lookup that finds nothing scans the whole collection.
     */
    cached: (key: string) => `${prefix}:cached:${key}`,
    /**
     * requestKey → the cached answer body itself, for a while (CACHE_REDIS_TTL_SECONDS): the Redis tier
     * in front of MongoDB's cache, so a hit is one Redis read.
     */
    cacheTier: (key: string) => `${prefix}:cache:${key}`,
    /**
     * request id → its outcome (JSON), or "" when it is too large to keep here (read MongoDB), for
     * ANSWER_REDIS_TTL_SECONDS after it finished: a caller registering just as it finished finds it.
     */
    answer: (requestId: string) => `${prefix}:answer:${requestId}`,
    /** async call id → the call (JSON), for CALL_REDIS_TTL_SECONDS; MongoDB holds it for good. */
    call: (callId: string) => `${prefix}:call:${callId}`,
    /**
     * Bumped whenever a stored gateway key is created or revoked: every gateway watches it and reloads
     * its keys from MongoDB when it moves (no MongoDB read per request).
     */
    keysVersion: `${prefix}:keys:version`,
    /**
     * A key's request-rate bucket and its pending requests. Both share one hash tag (the key id), so
     * the quota script touches one Redis Cluster slot.
     */
    quotaRate: (keyId: string) => `${prefix}:quota:{${keyId}}:rate`,
    quotaPending: (keyId: string) => `${prefix}:quota:{${keyId}}:pending`,
    /**
     * Admission control (MAX_QUEUED_REQUESTS, MAX_QUEUED_BYTES): request id → "<body bytes>:<admitted at,
     * epoch ms>" for every new request whose job waits for a collator, and the sum of their bytes. Entered
     * by the gateway's claim script, left when a collator takes the job (or the job is found gone).
     */
    admitted: `${prefix}:admission:jobs`,
    admittedBytes: `${prefix}:admission:bytes`,
    /** Pub/sub channel announcing "request <id> reached a terminal state". */
    doneChannel: `${prefix}:done`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * Message published on the done channel. Format 2 carries the outcome when it is small
 * (ANSWER_CARRY_MAX_BYTES), so a woken gateway answers without reading MongoDB; without it (format 1,
 * or a large answer), the gateway reads the outcome from the store.
 */
export interface DoneMessage {
  requestId: string;
  /** FORMAT_VERSION of the publisher; absent in format 1. */
  v?: number;
  outcome?: Outcome;
}

/**
 * Fence document ids (MongoDB collection `fences`): inserting one is winning a once-only step.
 * Which transition takes which fence: `BATCH_TRANSITIONS` in lifecycle.ts.
 */
export const fenceIds = {
  /** Places one attempt of a request in exactly one batch record (`line` is `lineId(request, attempt)`). */
  line: (line: string) => `line:${line}`,
  /** Recovery's claim of a stale record, for the generation it takes the record into. */
  generation: (recordId: string, generation: number) => `batch:${recordId}:generation:${generation}`,
  /** The right to call batches.create for a record, once per generation. */
  creating: (recordId: string, generation: number) => `batch:${recordId}:creating:${generation}`,
};
