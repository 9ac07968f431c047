import type { RedisKeys } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";

/** Keys deleted per command. */
const CHUNK = 500;

/**
 * Deletes the Redis copies of what the store just erased or let go: a request's answer
 * (`answer:<id>`), a cache key's tier entry and marker (`cache:<key>`, `cached:<key>`: without the
 * marker, an identical request is a miss, not a lookup of an entry that is gone) and an async call
 * (`call:<id>`). One DEL per key (pipelined): keys of a cluster may sit on different nodes.
 */
export async function forgetCopies(
  redis: Redis,
  keys: RedisKeys,
  removed: { answers: string[]; cacheKeys: string[]; calls: string[] },
): Promise<void> {
  const all = [
    ...removed.answers.map((id) => keys.answer(id)),
    ...removed.cacheKeys.flatMap((key) => [keys.cacheTier(key), keys.cached(key)]),
    ...removed.calls.map((id) => keys.call(id)),
  ];
  for (let i = 0; i < all.length; i += CHUNK) {
    const pipeline = redis.pipeline();
    for (const key of all.slice(i, i + CHUNK)) pipeline.del(key);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error)?.[0];
    if (failed) throw failed;
  }
}
