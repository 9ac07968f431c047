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
