import { openTestStore } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Waiters } from "./waiters.ts";

let store: Awaited<ReturnType<typeof openTestStore>>;
beforeAll(async () => {
  store = await openTestStore("waiters");
});
afterAll(() => store.drop());

const waiters = () => new Waiters({ requests: store.requests, isLost: async () => false, recheckMs: 60_000 });

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

  it("answers from the store when the request is already finished", async () => {
    await store.requests.finish("req_done", "succeeded", { statusCode: 200, body: "{}" }, null);
    const w = waiters();
    const result = await w.wait("req_done");
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
});
