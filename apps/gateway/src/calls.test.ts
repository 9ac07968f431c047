import { createLogger } from "@batch-gpt/config";
import { redisKeys } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { eventually, openTestStore, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallRegistry } from "./calls.ts";

let store: Awaited<ReturnType<typeof openTestStore>>;
const keys = redisKeys(uniqueName("calls"));
const redis = createRedis(services().redisUrl, "client");
const log = createLogger("calls", "silent");
beforeAll(async () => {
  store = await openTestStore("calls");
});
afterAll(async () => {
  redis.disconnect();
  await store.drop();
});

const call = (id: string) => ({
  _id: id,
  requestId: `req_${id}`,
  owner: "t1",
  endpoint: "/v1/chat/completions" as const,
  createdAt: new Date(1_700_000_000_000),
});

describe("async calls", () => {
  it("are readable at once from Redis, and reach MongoDB in bulk soon after", async () => {
    const calls = new CallRegistry({ redis, keys, store, log, ttlSeconds: 60, flushMs: 20 });
    await Promise.all(["c1", "c2", "c3"].map((id) => calls.record(call(id))));
    expect(await calls.get("c2")).toEqual(call("c2"));
    await eventually(async () => (await store.calls.get("c3")) ?? undefined, 5000, "the calls in MongoDB");
    expect(await store.calls.get("c1")).toEqual(call("c1"));
    await calls.close();
  });

  it("go to MongoDB at once when a whole chunk is pending, without waiting for the timer", async () => {
    const calls = new CallRegistry({ redis, keys, store, log, ttlSeconds: 60, flushMs: 60_000 });
    const ids = Array.from({ length: 500 }, (_, i) => `chunk-${i}`);
    await Promise.all(ids.map((id) => calls.record(call(id))));
    await eventually(async () => (await store.calls.get("chunk-499")) ?? undefined, 10_000, "the chunk");
    expect(await store.calls.get("chunk-0")).toEqual(call("chunk-0"));
    await calls.close();
  });

  it("are read from MongoDB once Redis no longer has them, and a close writes what is pending", async () => {
    const calls = new CallRegistry({ redis, keys, store, log, ttlSeconds: 60, flushMs: 60_000 });
    await calls.record(call("c4"));
    await calls.close();
    await redis.del(keys.call("c4"));
    expect(await calls.get("c4")).toEqual(call("c4"));
    expect(await calls.get("c-unknown")).toBeNull();
  });
});
