import type {
  AdminBatch,
  AdminBatchList,
  AdminOverview,
  FlushResult,
  RequestTrace,
} from "@batch-gpt/contracts";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The admin API on a running stack. The collation window is a minute, so nothing is collated unless it
// is flushed; batches take 4 s at the emulator, long enough to cancel one while it runs.

let stack: Stack;
let url: string;
beforeAll(async () => {
  stack = await startStack({ batchDurationMs: 4000, env: { COLLATE_BATCHES_FOR_DURATION_IN_MS: "60000" } });
  url = stack.gateways[0]!.url;
});
afterAll(() => stack?.close());

const chat = (model: string, content: string) => ({ model, messages: [{ role: "user", content }] });

async function admin<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}/admin/api${path}`, init);
  return { status: response.status, body: (await response.json()) as T };
}
const post = <T>(path: string, body?: unknown) =>
  admin<T>(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function queueAsync(model: string, content: string): Promise<string> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-batch-mode": "async" },
    body: JSON.stringify(chat(model, content)),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

const queued = async (model: string) =>
  (await admin<AdminOverview>("/overview")).body.queue.models.find((m) => m.model === model);

describe("flush", () => {
  it("collates a model's held requests at once, and only that model's", async () => {
    const callId = await queueAsync("gpt-flush", "flush me");
    const other = await queueAsync("gpt-other", "not me");
    // Both are taken by the collator and held for the (minute-long) window.
    await eventually(async () => (await queued("gpt-flush"))?.held === 1, 10_000, "gpt-flush held");
    await eventually(async () => (await queued("gpt-other"))?.held === 1, 10_000, "gpt-other held");

    const flushed = await post<FlushResult>("/flush", { model: "gpt-flush" });
    expect(flushed).toEqual({ status: 200, body: { model: "gpt-flush", collators: 1 } });
    await eventually(
      async () => (await fetch(`${url}/v1/requests/${callId}`)).status === 200,
      20_000,
      "the flushed request answered",
    );
    expect(await queued("gpt-flush")).toBeUndefined();
    expect(await queued("gpt-other")).toMatchObject({ waiting: 0, held: 1, delayed: 0 });
    expect((await fetch(`${url}/v1/requests/${other}`)).status).toBe(202);

    // The trace of the answered request, by its async call id.
    const trace = await admin<RequestTrace>(`/requests/${callId}`);
    expect(trace.status).toBe(200);
    expect(trace.body).toMatchObject({
      callId,
      state: "succeeded",
      job: null,
      model: "gpt-flush",
      endpoint: "/v1/chat/completions",
      answer: { statusCode: 200 },
      attempts: [{ attempt: 0, batch: { view: "completed", status: "completed", model: "gpt-flush" } }],
    });
    expect(trace.body.id).toMatch(/^req_/);
    expect(trace.body.attempts[0]!.batch!.requests).toEqual({ total: 1, completed: 1, failed: 0 });

    // A flush of every model takes the other one too.
    expect((await post<FlushResult>("/flush")).body).toEqual({ model: null, collators: 1 });
    await eventually(async () => (await fetch(`${url}/v1/requests/${other}`)).status === 200, 20_000);
  });

  it("refuses a model that is not a string, with OpenAI's error body", async () => {
    const refused = await post<{ error: { param: string } }>("/flush", { model: 42 });
    expect(refused.status).toBe(400);
    expect(refused.body.error.param).toBe("model");
  });
});

describe("batches", () => {
  it("lists by status with counts and pages; a bad status is a 400", async () => {
    // The list is read from the gateway's snapshot of the records, at most a few seconds behind.
    const completed = await eventually(async () => {
      const page = await admin<AdminBatchList>("/batches?status=completed&limit=1");
      return page.body.counts.completed >= 2 && page;
    });
    expect(completed.status).toBe(200);
    expect(completed.body.total).toBe(completed.body.counts.completed);
    expect(completed.body.data).toHaveLength(1);
    expect(completed.body.data[0]).toMatchObject({ view: "completed", endpoint: "/v1/chat/completions" });
    const next = await admin<AdminBatchList>("/batches?status=completed&limit=1&offset=1");
    expect(next.body.data[0]!.id).not.toBe(completed.body.data[0]!.id);

    const bad = await admin<{ error: { param: string; type: string } }>("/batches?status=done");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ param: "status", type: "invalid_request_error" });
    expect((await admin("/batches/bgb_nope")).status).toBe(404);
    expect((await admin("/requests/req_nope")).status).toBe(404);
  });

  it("cancels a running batch; its request goes on in a new attempt, which the trace shows", async () => {
    const callId = await queueAsync("gpt-cancel", "cancel my batch");
    await eventually(async () => (await queued("gpt-cancel"))?.held === 1, 10_000, "held");
    await post("/flush", { model: "gpt-cancel" });
    const running = await eventually(async () => {
      const { body } = await admin<AdminBatchList>("/batches?status=active");
      return body.data.find((b) => b.model === "gpt-cancel" && b.providerBatchId);
    });

    const cancelled = await post<AdminBatch>(`/batches/${running.providerBatchId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: running.id, status: "cancelling", view: "active" });
    await eventually(
      async () => (await admin<AdminBatch>(`/batches/${running.id}`)).body.view === "cancelled",
      20_000,
      "cancelled",
    );
    // Cancelling it again: OpenAI's 409.
    expect((await post(`/batches/${running.id}/cancel`)).status).toBe(409);

    // The unfinished line went back to the queue as attempt 1 (held by the collator for its window).
    await eventually(async () => (await queued("gpt-cancel"))?.held === 1, 20_000, "resubmitted");
    await post("/flush", { model: "gpt-cancel" });
    await eventually(async () => (await fetch(`${url}/v1/requests/${callId}`)).status === 200, 20_000);
    const trace = (await admin<RequestTrace>(`/requests/${callId}`)).body;
    expect(trace.state).toBe("succeeded");
    expect(trace.attempts.map((a) => [a.attempt, a.batch?.view])).toEqual([
      [0, "cancelled"],
      [1, "completed"],
    ]);
  });
});

describe("figures for the whole deployment", () => {
  it("counts cache hits and misses, and held sync callers", async () => {
    const before = (await admin<AdminOverview>("/overview")).body.cache;
    const cacheOnly = (content: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-batch-mode": "cache" },
        body: JSON.stringify(chat("gpt-flush", content)),
      });
    expect((await cacheOnly("flush me")).status).toBe(200);
    expect((await cacheOnly("never asked")).status).toBe(404);
    const after = await eventually(async () => {
      const { cache } = (await admin<AdminOverview>("/overview")).body;
      return cache.hits > before.hits && cache.misses > before.misses && cache;
    });
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(1);
    expect(after.hitRate).toBeCloseTo(after.hits / (after.hits + after.misses));

    // A sync caller held open (the window is a minute) shows up, then leaves.
    const leave = new AbortController();
    const held = fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("gpt-held", "hold me")),
      signal: leave.signal,
    }).catch(() => null);
    const seen = await eventually(async () => {
      const { heldCallers } = (await admin<AdminOverview>("/overview")).body;
      return heldCallers.total === 1 && heldCallers;
    });
    expect(seen.gateways).toHaveLength(1);
    leave.abort();
    await held;
    await eventually(async () => (await admin<AdminOverview>("/overview")).body.heldCallers.total === 0);
  });
});
