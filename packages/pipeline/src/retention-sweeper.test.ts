import { createLogger } from "@batch-gpt/config";
import { redisKeys } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { openTestStore, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetentionSweeper } from "./retention-sweeper.ts";

// The sweeper over a real store and Redis: which windows apply to cache entries, and that the Redis
// copies of what it lets go are dropped with them.
const DAY = 24 * 3600 * 1000;
let store: Awaited<ReturnType<typeof openTestStore>>;
let redis: ReturnType<typeof createRedis>;
const keys = redisKeys(uniqueName("q"));
const log = createLogger("poller", "silent");

beforeAll(async () => {
  store = await openTestStore("sweeper");
  redis = createRedis(services().redisUrl, "worker");
});
afterAll(async () => {
  await redis.quit();
  await store.drop();
});

async function cacheEntry(key: string, ageMs: number) {
  await store.cache.put({
    _id: key,
    endpoint: "/v1/chat/completions",
    model: "m",
    owner: "team-a",
    body: "{}",
    createdAt: new Date(Date.now() - ageMs),
  });
  await redis.set(keys.cacheTier(key), `${Date.now()}:{}`, "EX", 600);
  await redis.set(keys.cached(key), "1", "EX", 600);
}

const sweeper = (windows: ConstructorParameters<typeof RetentionSweeper>[0]["windows"]) =>
  new RetentionSweeper({ store, redis, keys, windows, log });

describe("RetentionSweeper", () => {
  it("sweeps nothing without a window", async () => {
    await cacheEntry("k-kept", 400 * DAY);
    expect(sweeper({}).enabled).toBe(false);
    expect(await sweeper({}).sweep()).toEqual({
      bodies: 0,
      answers: 0,
      batches: 0,
      calls: 0,
      cacheEntries: 0,
    });
    expect(await store.cache.get("k-kept")).not.toBeNull();
  });

  it("deletes cache entries older than the answers' window even without CACHE_TTL_SECONDS, in Redis too", async () => {
    await cacheEntry("k-old", 4 * DAY);
    await cacheEntry("k-new", 2 * DAY);
    const tally = await sweeper({ answersDays: 3 }).sweep();
    expect(tally.cacheEntries).toBeGreaterThanOrEqual(1);
    expect(await store.cache.get("k-old")).toBeNull();
    expect(await redis.exists(keys.cacheTier("k-old"), keys.cached("k-old"))).toBe(0);
    expect(await store.cache.get("k-new")).not.toBeNull();
    expect(await redis.exists(keys.cacheTier("k-new"), keys.cached("k-new"))).toBe(2);
  });

  it("takes whichever of CACHE_TTL_SECONDS and the answers' window is shorter", async () => {
    await cacheEntry("k-two-hours", 2 * 3600 * 1000);
    await sweeper({ answersDays: 3, cacheTtlSeconds: 3600 }).sweep();
    expect(await store.cache.get("k-two-hours")).toBeNull();
    expect(await store.cache.get("k-new")).toBeNull();
  });
});
