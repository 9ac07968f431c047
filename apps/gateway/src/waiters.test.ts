import { redisKeys } from "@batch-gpt/contracts";
import { createRedis, DonePublisher, RecentAnswers } from "@batch-gpt/queue";
import { openTestStore, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Waiters } from "./waiters.ts";

let store: Awaited<ReturnType<typeof openTestStore>>;
beforeAll(async () => {
  store = await openTestStore("waiters");
});
const keys = redisKeys(uniqueName("waiters"));
const redis = createRedis(services().redisUrl, "client");
afterAll(async () => {
  redis.disconnect();
  await store.drop();
});

const recent = new RecentAnswers(redis, keys);
const publisher = new DonePublisher(redis, keys, { carryMaxBytes: 1024, ttlSeconds: 60 });
const waiters = () =>
  new Waiters({
    requests: store.requests,
    recent,
    locate: async (ids) => new Map(ids.map((id) => [id, "queued" as const])),
    recheckMs: 60_000,
  });
const answered = { state: "succeeded" as const, answer: { statusCode: 200, body: '{"hot":true}' } };

describe("waiters", () => {
  it("does not hold a caller that already left", async () => {
    const w = waiters();
    const gone = AbortSignal.abort();
    expect(await w.wait("req_left", gone)).toBe("shutdown");
    expect(w.size).toBe(0);
    w.close();
  });

  it("frees a waiter when its caller leaves, and releases every held caller on close", async () => {
    const w = waiters();
    const caller = new AbortController();
    void w.wait("req_a", caller.signal);
    const held = w.wait("req_b");
    expect(w.size).toBe(2);
    caller.abort();
    expect(w.size).toBe(1);
    w.close();
    expect(await held).toBe("shutdown");
    expect(await w.wait("req_after_close")).toBe("shutdown");
    expect(w.size).toBe(0);
  });

  it("answers from the store when an attached request is already finished", async () => {
    await store.requests.finish("req_done", "succeeded", { statusCode: 200, body: "{}" }, null);
    const w = waiters();
    const result = await w.wait("req_done", undefined, { attached: true });
    expect(result).toMatchObject({ _id: "req_done", state: "succeeded" });
    w.close();
  });

  it("re-checks every held request in one pass, answering those whose wake-up was missed", async () => {
    const w = waiters();
    const missed = w.wait("req_missed");
    const pending = w.wait("req_pending");
    await store.requests.finish("req_missed", "failed", { statusCode: 500, body: "{}" }, null);
    await w.recheckAll();
    expect(await missed).toMatchObject({ _id: "req_missed", state: "failed" });
    expect(w.size).toBe(1);
    w.close();
    expect(await pending).toBe("shutdown");
  });

  it("answers from the wake-up itself: nothing is read (the store has no outcome)", async () => {
    const w = waiters();
    const held = w.wait("req_woken");
    w.onDone({ requestId: "req_woken", v: 2, outcome: answered });
    expect(await held).toEqual(answered);
    w.close();
  });

  it("a wake-up without an outcome (older publishers, large answers) reads the store", async () => {
    const w = waiters();
    const held = w.wait("req_pointer");
    await store.requests.finish("req_pointer", "failed", { statusCode: 500, body: "{}" }, null);
    w.onDone({ requestId: "req_pointer" });
    expect(await held).toMatchObject({ _id: "req_pointer", state: "failed" });
    w.close();
  });

  it("a caller registering just after the wake-up finds the outcome in Redis", async () => {
    await publisher.publish([{ requestId: "req_just_done", outcome: answered }]);
    const w = waiters();
    expect(await w.wait("req_just_done")).toEqual(answered);
    w.close();
  });

  it("a fresh request is not looked up in the store; an attached one is", async () => {
    await store.requests.finish("req_long_done", "succeeded", { statusCode: 200, body: "{}" }, null);
    const w = waiters();
    const fresh = w.wait("req_long_done");
    await new Promise((r) => setTimeout(r, 200));
    expect(w.size).toBe(1);
    const attached = await w.wait("req_long_done", undefined, { attached: true });
    expect(attached).toMatchObject({ _id: "req_long_done", state: "succeeded" });
    expect(await fresh).toMatchObject({ _id: "req_long_done" });
    w.close();
  });

  it("the timed re-check reads Redis for callers held briefly, MongoDB only for those held long", async () => {
    const w = new Waiters({
      requests: store.requests,
      recent,
      locate: async (ids) => new Map(ids.map((id) => [id, "queued" as const])),
      recheckMs: 100,
      storeAfterMs: 60_000,
    });
    const held = w.wait("req_timed");
    await store.requests.finish("req_timed", "succeeded", { statusCode: 200, body: "{}" }, null);
    await new Promise((r) => setTimeout(r, 400));
    expect(w.size).toBe(1); // Only in MongoDB: not looked for yet.
    await publisher.publish([{ requestId: "req_timed", outcome: answered }]);
    expect(await held).toEqual(answered);
    w.close();
  });

  it("looks for a long-held request until the store has it, then never again", async () => {
    const asked: string[][] = [];
    const answers = ["queued", "recorded", "nowhere"] as const;
    const w = new Waiters({
      requests: store.requests,
      recent,
      locate: async (ids) => {
        asked.push(ids);
        return new Map(ids.map((id) => [id, answers[Math.min(asked.length - 1, 2)]!]));
      },
      recheckMs: 60_000,
      lostGraceMs: 0,
    });
    const held = w.wait("req_long_batch");
    for (let i = 0; i < 4; i++) await w.recheckAll();
    expect(asked).toEqual([["req_long_batch"], ["req_long_batch"]]);
    expect(w.size).toBe(1);
    w.close();
    expect(await held).toBe("shutdown");
  });

  it("looks for every long-held request of a re-check at once, and tells the lost ones", async () => {
    const asked: string[][] = [];
    const w = new Waiters({
      requests: store.requests,
      recent,
      locate: async (ids) => {
        asked.push(ids);
        return new Map(
          ids.map((id) => [id, id === "req_many_gone" ? ("nowhere" as const) : ("recorded" as const)]),
        );
      },
      recheckMs: 60_000,
      lostGraceMs: 0,
    });
    const gone = w.wait("req_many_gone");
    const kept = ["req_many_a", "req_many_b"].map((id) => w.wait(id));
    await w.recheckAll();
    expect(asked.map((ids) => [...ids].sort())).toEqual([["req_many_a", "req_many_b", "req_many_gone"]]);
    expect(await gone).toBe("lost");
    expect(w.size).toBe(2);
    w.close();
    expect(await Promise.all(kept)).toEqual(["shutdown", "shutdown"]);
  });
});
