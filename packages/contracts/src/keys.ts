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
    /** Pub/sub channel announcing "request <id> reached a terminal state". */
    doneChannel: `${prefix}:done`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/** Message published on the done channel. */
export interface DoneMessage {
  requestId: string;
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
