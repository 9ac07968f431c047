import {
  type BatchRecord,
  type CollateJob,
  erasedAnswer,
  expiredAnswer,
  fenceIds,
} from "@batch-gpt/contracts";
import { openTestStore } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INLINE_TEXT_BYTES } from "./large-text.ts";

// The retention steps and erasures against the test server (FerretDB here, MongoDB when one is given):
// each acts on what is old enough and finished, never on what is unfinished or still active.
let store: Awaited<ReturnType<typeof openTestStore>>;
beforeAll(async () => {
  store = await openTestStore("retention");
  await store.retention.ensureIndexes();
  // Again, as every start does: a no-op.
  await store.retention.ensureIndexes();
});
afterAll(() => store.drop());

const DAY = 24 * 3600 * 1000;
const ago = (ms: number) => new Date(Date.now() - ms);
const c = () => store.mongo.collections;

const job = (requestId: string, owner = "team-a", key = `key-${requestId}`): CollateJob => ({
  requestId,
  attempt: 0,
  owner,
  provider: "openai",
  endpoint: "/v1/chat/completions",
  model: "m",
  body: JSON.stringify({ model: "m", messages: [{ role: "user", content: `prompt of ${requestId}` }] }),
  key,
  traceId: "trace",
  createdAt: Date.now() - 3 * DAY,
});

/** Requests recorded; those in `finishedAgo` finished that long ago, with `body` as their answer. */
async function requests(ids: string[], finishedAgo: Record<string, number>, owner = "team-a", body = "{}") {
  await store.requests.ensure(ids.map((id) => job(id, owner)));
  const done = ids.filter((id) => id in finishedAgo);
  await store.requests.finishMany(
    done.map((id) => ({ _id: id, state: "succeeded", answer: { statusCode: 200, body }, usage: "{}" })),
  );
  for (const id of done) await c().answers.updateOne({ _id: id }, { $set: { at: ago(finishedAgo[id]!) } });
}

const body = async (id: string) => (await c().requests.findOne({ _id: id }))?.body;
const chunkCount = async (prefix: string) =>
  (
    await c()
      .textChunks.find({}, { projection: { _id: 1 } })
      .toArray()
  ).filter((d) => d._id.startsWith(prefix)).length;
const large = () => JSON.stringify({ data: "x".repeat(INLINE_TEXT_BYTES + 1024) });

describe("the retention steps", () => {
  it("blanks the bodies of requests finished before the window, and only theirs", async () => {
    await requests(["req_b_old", "req_b_new", "req_b_open"], { req_b_old: 2 * DAY, req_b_new: 1000 });
    const page = await store.retention.blankBodies(ago(DAY));
    expect(page.count).toBe(1);
    expect(await body("req_b_old")).toBe("");
    expect((await c().requests.findOne({ _id: "req_b_old" }))?.bodyErasedAt).toBeInstanceOf(Date);
    expect(await body("req_b_new")).toContain("prompt of req_b_new");
    expect(await body("req_b_open")).toContain("prompt of req_b_open");
    // Its answer stays; a second pass finds nothing left to do.
    expect((await store.requests.outcome("req_b_old"))?.answer.statusCode).toBe(200);
    expect((await store.retention.blankBodies(ago(DAY))).count).toBe(0);
  });

  it("replaces old answers with an error answer and drops the parts of a large one", async () => {
    await requests(["req_a_old"], { req_a_old: 2 * DAY }, "team-a", large());
    await requests(["req_a_new"], { req_a_new: 1000 });
    expect(await chunkCount("answer:req_a_old:")).toBeGreaterThan(0);
    const page = await store.retention.replaceAnswers(ago(DAY), expiredAnswer(1));
    // (req_b_old, of the test before, is old enough too.)
    expect(page.removed.answers).toContain("req_a_old");
    expect(page.removed.answers).not.toContain("req_a_new");
    const outcome = await store.requests.outcome("req_a_old");
    expect(outcome?.state).toBe("succeeded");
    expect(outcome?.answer.statusCode).toBe(404);
    expect(JSON.parse(outcome!.answer.body).error.code).toBe("answer_expired");
    expect(await chunkCount("answer:req_a_old:")).toBe(0);
    expect((await store.requests.outcome("req_a_new"))?.answer).toEqual({ statusCode: 200, body: "{}" });
    expect((await store.retention.replaceAnswers(ago(DAY), expiredAnswer(1))).count).toBe(0);
  });

  it("deletes done batch records with their manifests and fences, never an active one", async () => {
    const record = (id: string, state: BatchRecord["state"], updated: Date): BatchRecord => ({
      _id: id,
      provider: "openai",
      endpoint: "/v1/chat/completions",
      model: "m",
      state,
      lines: ["req_x:0"],
      generation: 1,
      owner: "c0",
      heartbeatAt: updated,
      inputFileId: null,
      providerBatchId: null,
      providerBatch: null,
      status: null,
      history: [],
      createdAt: updated,
      updatedAt: updated,
    });
    await c().batches.insertMany([
      record("bgb_old_done", "done", ago(2 * DAY)),
      record("bgb_old_active", "submitted", ago(2 * DAY)),
      record("bgb_new_done", "done", ago(1000)),
    ]);
    for (const id of ["bgb_old_done", "bgb_old_active"]) {
      await store.lines.write(id, [{ requestId: "req_x", attempt: 0, key: "k", owner: "team-a" }]);
      await store.fences.claim(fenceIds.creating(id, 1), "c0");
    }
    const page = await store.retention.deleteBatches(ago(DAY));
    expect(page.count).toBe(1);
    const left = (
      await c()
        .batches.find({}, { projection: { _id: 1 } })
        .toArray()
    )
      .map((r) => r._id)
      .sort();
    expect(left).toEqual(["bgb_new_done", "bgb_old_active"]);
    expect((await store.lines.read("bgb_old_done")).size).toBe(0);
    expect((await store.lines.read("bgb_old_active")).size).toBe(1);
    expect(await store.fences.holder(fenceIds.creating("bgb_old_done", 1))).toBeNull();
    expect(await store.fences.holder(fenceIds.creating("bgb_old_active", 1))).toBe("c0");
  });

  it("deletes old async calls of finished requests, page by page past unfinished ones", async () => {
    await requests(["req_c_done", "req_c_open"], { req_c_done: 1000 });
    const call = (id: string, requestId: string, createdAt: Date) => ({
      _id: id,
      requestId,
      owner: "team-a",
      endpoint: "/v1/chat/completions" as const,
      createdAt,
    });
    await store.calls.insertMany([
      call("chatcmpl-c1", "req_c_open", ago(2 * DAY)),
      call("chatcmpl-c2", "req_c_done", ago(2 * DAY)),
      call("chatcmpl-c3", "req_c_done", ago(1000)),
    ]);
    // One call per page: the unfinished one comes first and must not stop the sweep.
    const first = await store.retention.deleteCalls(ago(DAY), null, 1);
    expect(first).toMatchObject({ count: 0, more: true, last: "chatcmpl-c1" });
    const second = await store.retention.deleteCalls(ago(DAY), first.last, 1);
    expect(second.removed.calls).toEqual(["chatcmpl-c2"]);
    expect(await store.calls.get("chatcmpl-c1")).not.toBeNull();
    expect(await store.calls.get("chatcmpl-c2")).toBeNull();
    expect(await store.calls.get("chatcmpl-c3")).not.toBeNull();
  });

  it("deletes cache entries older than the cache's life, with their parts", async () => {
    const entry = (id: string, text: string, createdAt: Date) => ({
      _id: id,
      endpoint: "/v1/chat/completions" as const,
      model: "m",
      owner: "team-a",
      body: text,
      createdAt,
    });
    await store.cache.putMany([entry("ck-old", large(), ago(2 * DAY)), entry("ck-new", "{}", ago(1000))]);
    expect(await chunkCount("cache:ck-old:")).toBeGreaterThan(0);
    const page = await store.retention.deleteCache(ago(DAY));
    expect(page.removed.cacheKeys).toEqual(["ck-old"]);
    expect(await store.cache.get("ck-old")).toBeNull();
    expect(await store.cache.get("ck-new")).not.toBeNull();
    expect(await chunkCount("cache:ck-old:")).toBe(0);
  });
});

describe("erasure", () => {
  it("erases one finished request: body, answer and the cache entry of its key", async () => {
    await requests(["req_e_one", "req_e_open"], { req_e_one: 1000 });
    await store.cache.put({
      _id: "key-req_e_one",
      endpoint: "/v1/chat/completions",
      model: "m",
      owner: "team-a",
      body: "{}",
      createdAt: new Date(),
    });
    const erased = await store.retention.eraseRequest("req_e_one", erasedAnswer());
    expect(erased).toMatchObject({ requests: 1, pending: 0, cacheEntries: 1 });
    expect(erased?.removed).toEqual({ answers: ["req_e_one"], cacheKeys: ["key-req_e_one"], calls: [] });
    expect(await body("req_e_one")).toBe("");
    expect(JSON.parse((await store.requests.outcome("req_e_one"))!.answer.body).error.code).toBe(
      "answer_erased",
    );
    expect(await store.cache.get("key-req_e_one")).toBeNull();
    // Unfinished: nothing erased; unknown: null.
    expect(await store.retention.eraseRequest("req_e_open", erasedAnswer())).toMatchObject({
      requests: 0,
      pending: 1,
    });
    expect(await body("req_e_open")).toContain("prompt of");
    expect(await store.retention.eraseRequest("req_e_unknown", erasedAnswer())).toBeNull();
  });

  it("erases a tenant's finished requests, cache entries and calls, and nothing of another tenant", async () => {
    await requests(["req_t_a1", "req_t_a2", "req_t_aopen"], { req_t_a1: 1000, req_t_a2: 1000 }, "tenant-a");
    await requests(["req_t_b1"], { req_t_b1: 1000 }, "tenant-b");
    const entry = (id: string, owner: string) => ({
      _id: id,
      endpoint: "/v1/chat/completions" as const,
      model: "m",
      owner,
      body: "{}",
      createdAt: new Date(),
    });
    await store.cache.putMany([
      entry("key-req_t_a1", "tenant-a"),
      entry("ck-a-other", "tenant-a"),
      entry("key-req_t_b1", "tenant-b"),
    ]);
    await store.calls.insertMany([
      {
        _id: "chatcmpl-ta",
        requestId: "req_t_a1",
        owner: "tenant-a",
        endpoint: "/v1/chat/completions",
        createdAt: new Date(),
      },
      {
        _id: "chatcmpl-tb",
        requestId: "req_t_b1",
        owner: "tenant-b",
        endpoint: "/v1/chat/completions",
        createdAt: new Date(),
      },
    ]);
    const pages: unknown[] = [];
    const result = await store.retention.eraseTenant("tenant-a", erasedAnswer(), async (removed) => {
      pages.push(removed);
    });
    expect(result).toEqual({ requests: 2, pending: 1, cacheEntries: 2, calls: 1 });
    expect(pages).toContainEqual({
      answers: ["req_t_a1", "req_t_a2"],
      cacheKeys: ["key-req_t_a1", "key-req_t_a2"],
      calls: [],
    });
    expect(await body("req_t_a1")).toBe("");
    expect(await body("req_t_a2")).toBe("");
    expect(await body("req_t_aopen")).toContain("prompt of");
    expect(await store.cache.get("ck-a-other")).toBeNull();
    expect(await store.calls.get("chatcmpl-ta")).toBeNull();
    // Tenant b's are untouched.
    expect(await body("req_t_b1")).toContain("prompt of");
    expect((await store.requests.outcome("req_t_b1"))?.answer.statusCode).toBe(200);
    expect(await store.cache.get("key-req_t_b1")).not.toBeNull();
    expect(await store.calls.get("chatcmpl-tb")).not.toBeNull();
  });
});
