import { type BatchRecord, type CollateJob, fenceIds } from "@batch-gpt/contracts";
import { collateJob, openTestStore, preparingRecord } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { BatchStore } from "./batches.ts";

// Contract tests for the store's own operations. They run against whichever server the test setup
// gave us (FerretDB here, a real mongod when one is on PATH or MONGODB_URI names one).
let store: Awaited<ReturnType<typeof openTestStore>>;
beforeAll(async () => {
  store = await openTestStore("store");
});
afterAll(() => store.drop());

const job = (requestId: string, body: object = { model: "m", messages: [] }): CollateJob =>
  collateJob(requestId, { body: JSON.stringify(body) });

const preparing = preparingRecord;

describe("fences", () => {
  it("lets exactly one of many concurrent claimants win", async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.fences.claim("b1:creating", `c${i}`)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await store.fences.holder("b1:creating")).toBe(`c${winner}`);
  });

  it("splits a contested set of line fences between two racers with no overlap", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `line:r${i}:0`);
    const [a, b] = await Promise.all([
      store.fences.claimMany(ids, "A"),
      store.fences.claimMany([...ids].reverse(), "B"),
    ]);
    expect(a.size + b.size).toBe(ids.length);
    for (const id of a) expect(b.has(id)).toBe(false);
  });
});

describe("record fences", () => {
  it("live apart from the lines' fences, and one an older version left among them is adopted", async () => {
    const id = "bgb_legacy_fence";
    await store.fences.claim(fenceIds.creating(id, 0), "c1");
    expect(await store.mongo.collections.recordFences.countDocuments({ _id: fenceIds.creating(id, 0) })).toBe(
      1,
    );
    expect(await store.mongo.collections.fences.countDocuments({ _id: fenceIds.creating(id, 0) })).toBe(0);
    // Written by a version before the split: in the lines' collection.
    await store.mongo.collections.fences.insertOne({
      _id: fenceIds.generation(id, 1),
      holder: "old",
      at: new Date(),
    });
    expect(await store.fences.holder(fenceIds.generation(id, 1))).toBeNull();
    expect(await store.fences.adoptLegacy()).toBeGreaterThanOrEqual(1);
    expect(await store.fences.holder(fenceIds.generation(id, 1))).toBe("old");
    expect(await store.fences.claim(fenceIds.generation(id, 1), "new")).toBe(false);
    expect(await store.fences.adoptLegacy()).toBe(0);
  });
});

describe("requests", () => {
  it("keeps bodies FerretDB would refuse as documents ($ref keys, dotted keys, nested arrays)", async () => {
    const body = {
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      response_format: { json_schema: { schema: { $defs: { a: { $ref: "#/x" } }, "a.b": 1 } } },
      input: [[1, 2], [3]],
      temperature: 0,
    };
    await store.requests.ensure([job("req_body", body)]);
    const record = await store.requests.get("req_body");
    expect(JSON.parse(record!.body)).toEqual(body);
    expect(record!.state).toBe("queued");
  });

  it("writes a record once: ensure is idempotent and does not reset a later state", async () => {
    await store.requests.ensure([job("req_once")]);
    await store.fences.claim("line:req_once:0", "bgb_1");
    await store.requests.ensure([{ ...job("req_once"), body: "{}" }]);
    const record = await store.requests.get("req_once");
    expect(record!.state).toBe("collating");
    expect(record!.batchId).toBe("bgb_1");
    expect(JSON.parse(record!.body)).toMatchObject({ model: "m" });
  });

  it("derives each state: queued, collating, submitted, then the first recorded outcome", async () => {
    await store.requests.ensure([job("req_life")]);
    expect((await store.requests.get("req_life"))?.state).toBe("queued");
    await store.fences.claim("line:req_life:0", "bgb_life");
    await store.batches.prepare(preparing("bgb_life", ["req_life:0"]));
    expect((await store.requests.get("req_life"))?.state).toBe("collating");
    await store.batches.markUploaded("bgb_life", "file-1", 0);
    expect(await store.batches.claimCreating("bgb_life", 0, "c")).toBe(true);
    expect((await store.requests.get("req_life"))?.state).toBe("collating");
    await store.batches.markSubmitted("bgb_life", { id: "batch_life", status: "validating" }, 0);
    expect((await store.requests.get("req_life"))?.state).toBe("submitted");
    await store.requests.finish("req_life", "succeeded", { statusCode: 200, body: "{}" }, null);
    await store.requests.finish("req_life", "failed", { statusCode: 500, body: "{}" }, null);
    expect(await store.requests.get("req_life")).toMatchObject({
      state: "succeeded",
      answer: { statusCode: 200 },
    });
    await store.requests.requeue("req_life", 1);
    expect((await store.requests.get("req_life"))?.batchId).toBeNull();
  });
});

describe("cache", () => {
  it("misses once an entry is older than the TTL, and never expires without one", async () => {
    const base = { endpoint: "/v1/chat/completions" as const, model: "m", owner: "o", body: "{}" };
    await store.cache.put({ _id: "fresh", ...base, createdAt: new Date() });
    await store.cache.put({ _id: "old", ...base, createdAt: new Date(Date.now() - 10_000) });
    expect(await store.cache.get("fresh", 5)).not.toBeNull();
    expect(await store.cache.get("old", 5)).toBeNull();
    expect(await store.cache.get("old")).not.toBeNull();
  });

  it("points at the stored outcome instead of copying it, and misses once that is no success", async () => {
    const answer = { statusCode: 200, body: '{"choices":[{"message":{"content":"pointed"}}]}' };
    await store.requests.finish("req_pointed", "succeeded", answer, null);
    const base = { endpoint: "/v1/chat/completions" as const, model: "m", owner: "o", createdAt: new Date() };
    await store.cache.put({ _id: "pointed", ...base, body: answer.body, answerOf: "req_pointed" });
    // The document is small: no copy of the answer.
    const raw = await store.mongo.collections.cache.findOne({ _id: "pointed" });
    expect(raw).toMatchObject({ body: "", answerOf: "req_pointed" });
    expect((await store.cache.get("pointed"))?.body).toBe(answer.body);
    const from = new Map([["pointed", 0]]);
    expect((await store.cache.getMany(["pointed"], from)).map((e) => e.body)).toEqual([answer.body]);
    // An entry written with its body (format 2) still reads as it is.
    await store.cache.put({ _id: "copied", ...base, body: "{}" });
    expect((await store.cache.get("copied"))?.body).toBe("{}");
    // The outcome erased (an error answer in its place): the entry answers no one.
    await store.mongo.collections.answers.updateOne(
      { _id: "req_pointed" },
      { $set: { state: "failed", answer: { statusCode: 404, body: "{}" } } },
    );
    expect(await store.cache.get("pointed")).toBeNull();
    expect(await store.cache.getMany(["pointed"], from)).toEqual([]);
    await store.cache.put({ _id: "dangling", ...base, body: "{}", answerOf: "req_never_finished" });
    expect(await store.cache.get("dangling")).toBeNull();
  });

  it("stores a pointing entry with only the fields read back, and still reads one written with them all", async () => {
    const answer = { statusCode: 200, body: '{"choices":[{"message":{"content":"slim"}}]}' };
    await store.requests.finish("req_slim", "succeeded", answer, null);
    const createdAt = new Date();
    const entry = { endpoint: "/v1/chat/completions" as const, model: "m", owner: "o", createdAt };
    await store.cache.put({ _id: "slim", ...entry, body: answer.body, answerOf: "req_slim" });
    const raw = await store.mongo.collections.cache.findOne({ _id: "slim" });
    expect(Object.keys(raw ?? {}).sort()).toEqual(["_id", "answerOf", "body", "createdAt", "owner"]);
    expect(await store.cache.get("slim")).toMatchObject({ _id: "slim", owner: "o", body: answer.body });
    // As an earlier version wrote it: endpoint and model included.
    await store.mongo.collections.cache.insertOne({ _id: "full", ...entry, body: "", answerOf: "req_slim" });
    expect((await store.cache.get("full"))?.body).toBe(answer.body);
    const from = new Map([
      ["slim", 0],
      ["full", 0],
    ]);
    expect((await store.cache.getMany(["slim", "full"], from)).map((e) => e.body)).toEqual([
      answer.body,
      answer.body,
    ]);
    // A tenant's erasure still finds it by its owner.
    const erased = await store.mongo.collections.cache.countDocuments({ owner: "o", _id: "slim" });
    expect(erased).toBe(1);
  });
});

describe("batches", () => {
  it("lists submitted batches newest first with an OpenAI cursor and a status filter", async () => {
    // A database of its own: other tests' submitted records would be listed too.
    const store = await openTestStore("list");
    onTestFinished(() => store.drop());
    const now = Date.now();
    for (let i = 0; i < 5; i++) {
      const record: BatchRecord = {
        _id: `bgb_l${i}`,
        provider: "openai",
        endpoint: "/v1/chat/completions",
        model: "m",
        state: "submitted",
        lines: [],
        generation: 0,
        owner: "c",
        heartbeatAt: new Date(now),
        inputFileId: null,
        providerBatchId: `batch_${i}`,
        providerBatch: null,
        status: i % 2 === 0 ? "completed" : "in_progress",
        history: [],
        createdAt: new Date(now + i * 1000),
        updatedAt: new Date(now),
      };
      // A fixture in any state: written directly, not through a transition.
      await store.mongo.collections.batches.insertOne(record);
    }
    const first = await store.batches.list({ limit: 2 });
    expect(first.records.map((r) => r.providerBatchId)).toEqual(["batch_4", "batch_3"]);
    expect(first.hasMore).toBe(true);
    const last = await store.batches.list({ limit: 2, after: "batch_1" });
    expect(last.records.map((r) => r.providerBatchId)).toEqual(["batch_0"]);
    expect(last.hasMore).toBe(false);
    const done = await store.batches.list({ limit: 10, status: "completed" });
    expect(done.records.map((r) => r.providerBatchId)).toEqual(["batch_4", "batch_2", "batch_0"]);
  });
});

describe("large batches", () => {
  // FerretDB v1 keeps a connection per statement of one update command open until the command ends, out
  // of a pool of 100: one bulk write of 100+ updates used to hang the whole server for good.
  it("writes, moves and claims the lines of a batch of hundreds of requests", async () => {
    const jobs = Array.from({ length: 250 }, (_, i) => job(`req_big_${i}`));
    await store.requests.ensure(jobs);
    await store.requests.ensure(jobs);
    const lines = jobs.map((j) => ({ requestId: j.requestId, attempt: 0 }));
    const won = await store.fences.claimMany(
      lines.map((l) => `line:${l.requestId}:0`),
      "bgb_big",
    );
    expect(won.size).toBe(jobs.length);
    for (const j of [jobs[0]!, jobs[249]!]) {
      expect(await store.requests.get(j.requestId)).toMatchObject({ state: "collating", batchId: "bgb_big" });
    }
  });
});

describe("racing writers", () => {
  it("two collators ensuring the same requests at once both succeed, and one record each remains", async () => {
    const jobs = Array.from({ length: 20 }, (_, i) => job(`req_race_${i}`));
    await Promise.all([store.requests.ensure(jobs), store.requests.ensure([...jobs].reverse())]);
    for (const j of jobs) expect((await store.requests.get(j.requestId))?.state).toBe("queued");
  });
});

describe("racing cache writers", () => {
  it("two answers for the same key stored at once both succeed", async () => {
    const entry = (body: string) => ({
      _id: "race-key",
      endpoint: "/v1/chat/completions" as const,
      model: "m",
      owner: "o",
      body,
      createdAt: new Date(),
    });
    await Promise.all([
      store.cache.put(entry("a")),
      store.cache.put(entry("b")),
      store.cache.put(entry("c")),
    ]);
    expect(["a", "b", "c"]).toContain((await store.cache.get("race-key"))?.body);
  });
});

// Both ways of guarding a transition: in the update's filter (MongoDB), or read by _id first (FerretDB v1).
describe.each([
  ["in the filter", true],
  ["read first", false],
])("batch transitions, the from-state guard %s", (_mode, guardInFilter) => {
  let batches: BatchStore;
  beforeAll(() => {
    batches = new BatchStore(store.mongo.collections, store.fences, { guardInFilter });
  });

  it("applies a write only from the states its transition lists", async () => {
    await batches.prepare(preparing(`bgb_t1_${guardInFilter}`));
    // The fence is won, but the write does not apply from preparing: no claim.
    expect(await batches.claimCreating(`bgb_t1_${guardInFilter}`, 0, "c0")).toBe(false);
    expect((await batches.get(`bgb_t1_${guardInFilter}`))?.state).toBe("preparing");
    expect(
      await batches.markSubmitted(`bgb_t1_${guardInFilter}`, { id: "batch_x", status: "validating" }, 0),
    ).toBe(false);
    expect(await batches.markUploaded(`bgb_t1_${guardInFilter}`, "file-1", 0)).toBe(true);
    expect(await batches.markUploaded(`bgb_t1_${guardInFilter}`, "file-2", 0)).toBe(false);
    expect(await batches.markSettled(`bgb_t1_${guardInFilter}`)).toBe(false);
    const record = await batches.get(`bgb_t1_${guardInFilter}`);
    expect(record).toMatchObject({ state: "uploaded", inputFileId: "file-1" });
  });

  it("a stale writer cannot roll a submitted record back", async () => {
    await batches.prepare(preparing(`bgb_t2_${guardInFilter}`));
    await batches.markUploaded(`bgb_t2_${guardInFilter}`, "file-1", 0);
    expect(await batches.claimCreating(`bgb_t2_${guardInFilter}`, 0, "c0")).toBe(true);
    expect(
      await batches.markSubmitted(`bgb_t2_${guardInFilter}`, { id: "batch_t2", status: "validating" }, 0),
    ).toBe(true);
    expect(await batches.markUploaded(`bgb_t2_${guardInFilter}`, "file-late", 0)).toBe(false);
    expect(await batches.heartbeat(`bgb_t2_${guardInFilter}`, 0)).toBe(false);
    expect(await batches.markRefused(`bgb_t2_${guardInFilter}`, "create_refused", 0)).toBe(false);
    expect(await batches.get(`bgb_t2_${guardInFilter}`)).toMatchObject({
      state: "submitted",
      providerBatchId: "batch_t2",
    });
    const seen = await batches.get(`bgb_t2_${guardInFilter}`);
    expect(await batches.recordStatus(seen!, { id: "batch_t2", status: "in_progress" })).toBe(true);
    const again = await batches.get(`bgb_t2_${guardInFilter}`);
    expect(await batches.recordStatus(again!, { id: "batch_t2", status: "in_progress" })).toBe(true);
    expect((await batches.get(`bgb_t2_${guardInFilter}`))?.history.map((h) => h.status)).toEqual([
      "validating",
      "in_progress",
    ]);
    expect(await batches.markSettled(`bgb_t2_${guardInFilter}`)).toBe(true);
    expect(await batches.recordStatus(seen!, { id: "batch_t2", status: "completed" })).toBe(false);
  });

  it("takes the creating fence once per generation, and a take-over once per generation", async () => {
    await batches.prepare(preparing(`bgb_t3_${guardInFilter}`));
    await batches.markUploaded(`bgb_t3_${guardInFilter}`, "file-1", 0);
    const claims = await Promise.all(
      ["a", "b", "c"].map((c) => batches.claimCreating(`bgb_t3_${guardInFilter}`, 0, c)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    const record = (await batches.get(`bgb_t3_${guardInFilter}`))!;
    const takers = await Promise.all(["r1", "r2"].map((c) => batches.takeOver(record, c)));
    expect(takers.filter((g) => g !== null)).toEqual([1]);
    expect((await batches.get(`bgb_t3_${guardInFilter}`))?.generation).toBe(1);
    expect(await batches.claimCreating(`bgb_t3_${guardInFilter}`, 1, "r1")).toBe(true);
  });

  /** A record whose collator last reported an hour ago, and the cut-off recovery would judge it by. */
  async function staleRecord(id: string): Promise<Date> {
    await batches.prepare(preparing(id));
    const hourAgo = new Date(Date.now() - 3_600_000);
    await store.mongo.collections.batches.updateOne({ _id: id }, { $set: { heartbeatAt: hourAgo } });
    return new Date(Date.now() - 60_000);
  }

  it("takes over a record whose last claimant died between its fence and its first write", async () => {
    const id = `bgb_t8_${guardInFilter}`;
    const stale = await staleRecord(id);
    // A collator won generation 1's fence long ago and was killed before it wrote the record: every
    // take-over since tried that same fence and lost, and the record waited for ever.
    await store.mongo.collections.recordFences.insertOne({
      _id: fenceIds.generation(id, 1),
      holder: "killed",
      at: new Date(Date.now() - 3_000_000),
    });
    const record = (await batches.get(id))!;
    expect(record.generation).toBe(0);
    expect(await batches.takeOver(record, "rescuer", stale)).toBe(2);
    expect(await batches.get(id)).toMatchObject({ generation: 2, owner: "rescuer" });
    expect(await batches.heartbeat(id, 2)).toBe(true);
    expect(await batches.heartbeat(id, 1)).toBe(false);
  });

  it("leaves a stale record to a claimant whose claim is under way", async () => {
    const id = `bgb_t9_${guardInFilter}`;
    const stale = await staleRecord(id);
    // Generation 1's fence was won just now: its claimant is about to write the record.
    expect(await store.fences.claim(fenceIds.generation(id, 1), "claimant")).toBe(true);
    expect(await batches.takeOver((await batches.get(id))!, "other", stale)).toBeNull();
    expect((await batches.get(id))?.generation).toBe(0);
  });

  it("a collator that lost the record to a take-over can neither write it nor keep it alive", async () => {
    const id = `bgb_t6_${guardInFilter}`;
    await batches.prepare(preparing(id));
    expect(await batches.takeOver((await batches.get(id))!, "newer")).toBe(1);
    // The former holder (generation 0) finishing a slow upload, reporting, giving up: all refused.
    expect(await batches.markUploaded(id, "file-stale", 0)).toBe(false);
    expect(await batches.heartbeat(id, 0)).toBe(false);
    expect(await batches.trimLines(id, [], 0)).toBe(false);
    expect(await batches.markRefused(id, "upload_refused", 0)).toBe(false);
    expect(await batches.get(id)).toMatchObject({ state: "preparing", generation: 1, inputFileId: null });
    // The new holder's writes apply; the former one cannot create nor record a batch.
    expect(await batches.heartbeat(id, 1)).toBe(true);
    expect(await batches.markUploaded(id, "file-new", 1)).toBe(true);
    expect(await batches.claimCreating(id, 0, "former")).toBe(false);
    expect(await batches.claimCreating(id, 1, "newer")).toBe(true);
    expect(await batches.markSubmitted(id, { id: "batch_stale", status: "validating" }, 0)).toBe(false);
    expect(await batches.markSubmitted(id, { id: "batch_t6", status: "validating" }, 1)).toBe(true);
    expect(await batches.get(id)).toMatchObject({
      state: "submitted",
      inputFileId: "file-new",
      providerBatchId: "batch_t6",
    });
  });

  if (!guardInFilter) {
    it("judges the generation by its fence: a record whose generation was written over still refuses", async () => {
      // On FerretDB v1 an update rewrites the whole document: a former holder's racing write can put
      // the old generation back. The take-over's fence stays.
      const id = "bgb_t7";
      await batches.prepare(preparing(id));
      expect(await batches.takeOver((await batches.get(id))!, "newer")).toBe(1);
      await store.mongo.collections.batches.updateOne({ _id: id }, { $set: { generation: 0 } });
      expect(await batches.heartbeat(id, 0)).toBe(false);
      expect(await batches.markUploaded(id, "file-stale", 0)).toBe(false);
    });
  }

  it("keeps our verdict apart from the provider's status", async () => {
    await batches.prepare(preparing(`bgb_t4_${guardInFilter}`));
    expect(await batches.trimLines(`bgb_t4_${guardInFilter}`, [], 0)).toBe(true);
    expect(await batches.get(`bgb_t4_${guardInFilter}`)).toMatchObject({
      state: "done",
      verdict: "empty",
      status: null,
    });
    await batches.prepare(preparing(`bgb_t5_${guardInFilter}`));
    expect(await batches.markRefused(`bgb_t5_${guardInFilter}`, "upload_refused", 0)).toBe(true);
    expect(await batches.get(`bgb_t5_${guardInFilter}`)).toMatchObject({
      state: "done",
      verdict: "upload_refused",
      status: null,
    });
  });
});
