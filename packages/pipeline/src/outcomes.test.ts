import { createLogger } from "@batch-gpt/config";
import { type CollateJob, errorAnswer, redisKeys } from "@batch-gpt/contracts";
import {
  CacheTier,
  createRedis,
  DonePublisher,
  Inflight,
  QueueRegistry,
  RecentAnswers,
} from "@batch-gpt/queue";
import type { LineInfo } from "@batch-gpt/store";
import { collateJob, openTestStore, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeliveryBatch, OutcomeRecorder } from "./outcomes.ts";

// The outcome recorder against the real store and Redis, from states a crash leaves behind.

const log = createLogger("outcomes-test", "silent");
let store: Awaited<ReturnType<typeof openTestStore>>;
let redis: ReturnType<typeof createRedis>;
let queues: QueueRegistry;
let inflight: Inflight;
let tier: CacheTier;
let recent: RecentAnswers;
let recorder: OutcomeRecorder;
let keys: ReturnType<typeof redisKeys>;

beforeAll(async () => {
  store = await openTestStore("outcomes");
  const prefix = uniqueName("q");
  keys = redisKeys(prefix);
  redis = createRedis(services().redisUrl, "worker");
  queues = new QueueRegistry({ redisUrl: services().redisUrl, prefix, log });
  inflight = new Inflight(redis, keys);
  tier = new CacheTier(redis, keys, { maxEntryBytes: 1024, ttlSeconds: 60 });
  recent = new RecentAnswers(redis, keys);
  recorder = new OutcomeRecorder({
    store,
    inflight,
    tier,
    publisher: new DonePublisher(redis, keys, { carryMaxBytes: 1024, ttlSeconds: 60 }),
    queues,
    maxResubmits: 3,
    log,
  });
});
afterAll(async () => {
  await queues?.close();
  redis?.disconnect();
  await store?.drop();
});

const job = (requestId: string, key: string): CollateJob => collateJob(requestId, { key, body: "{}" });

const batch = (recordId: string, lines: LineInfo[] = []): DeliveryBatch => ({
  recordId,
  endpoint: "/v1/chat/completions",
  model: "m",
  lines: new Map(lines.map((l) => [`${l.requestId}:${l.attempt}`, l])),
});
const ok = (text: string) => ({
  statusCode: 200,
  body: JSON.stringify({ text, usage: { total_tokens: 3 } }),
});

describe("recording a batch's outcomes again", () => {
  it("frees the dedup key of a request already finished (a poller died before freeing it)", async () => {
    const key = "key-finished-not-freed";
    await store.requests.ensure([job("req_fin", key)]);
    await store.fences.claim("line:req_fin:0", "bgb_fin");
    expect(await inflight.claim(key, "req_fin")).toBe("req_fin");
    const answer = errorAnswer(500, "boom");
    // What a poller that died between storing the outcome and freeing the key left behind.
    await store.requests.finish("req_fin", "failed", answer, null);
    // A record written before line manifests existed: the per-line path.
    await recorder.deliver(batch("bgb_fin"), [{ kind: "answer", requestId: "req_fin", attempt: 0, answer }]);
    // Else every identical request for days would attach to this failure instead of trying again.
    expect(await inflight.leader(key)).toBeNull();
  });
});

describe("settling lines the manifest lists (the bulk path)", () => {
  it("stores, caches, frees and announces every line without reading its request", async () => {
    const lines = [
      { requestId: "req_bulk_a", attempt: 0, key: "key-bulk-a", owner: "t1" },
      { requestId: "req_bulk_b", attempt: 0, key: "key-bulk-b", owner: "t1" },
      { requestId: "req_bulk_c", attempt: 3, key: "key-bulk-c", owner: "t1" },
    ];
    // No request documents at all: the bulk path must not need them.
    for (const line of lines) expect(await inflight.claim(line.key, line.requestId)).toBe(line.requestId);
    const failed = errorAnswer(400, "bad line");
    const result = await recorder.deliver(batch("bgb_bulk", lines), [
      { kind: "answer", requestId: "req_bulk_a", attempt: 0, answer: ok("a") },
      { kind: "answer", requestId: "req_bulk_b", attempt: 0, answer: failed },
      // Never ran, and no attempts left (attempt 3 = MAX_RESUBMITS): answered with its error.
      { kind: "unfinished", requestId: "req_bulk_c", attempt: 3, answer: errorAnswer(503, "expired") },
    ]);
    expect(result).toEqual({ finished: 3, resubmitted: 0 });
    expect(await store.requests.outcome("req_bulk_c")).toMatchObject({
      state: "failed",
      answer: { statusCode: 503 },
    });
    expect(await store.requests.outcome("req_bulk_a")).toMatchObject({
      state: "succeeded",
      usage: JSON.stringify({ total_tokens: 3 }),
    });
    expect(await store.requests.outcome("req_bulk_b")).toMatchObject({ state: "failed", answer: failed });
    expect(await store.cache.get("key-bulk-a")).toMatchObject({ owner: "t1", body: ok("a").body });
    expect(await store.cache.get("key-bulk-b")).toBeNull();
    expect(await tier.get("key-bulk-a")).toMatchObject({ body: ok("a").body });
    expect(await inflight.isCached("key-bulk-a")).toBe(true);
    expect(await inflight.leader("key-bulk-a")).toBeNull();
    expect(await inflight.leader("key-bulk-b")).toBeNull();
    expect(await recent.peekMany(["req_bulk_a", "req_bulk_b"])).toEqual([
      { state: "succeeded", answer: ok("a") },
      { state: "failed", answer: failed },
    ]);
  });

  it("a repeat keeps the first outcome, and announces that one", async () => {
    const line = { requestId: "req_bulk_again", attempt: 0, key: "key-bulk-again", owner: "t1" };
    await recorder.deliver(batch("bgb_again", [line]), [
      { kind: "answer", requestId: line.requestId, attempt: 0, answer: ok("first") },
    ]);
    await recorder.deliver(batch("bgb_again", [line]), [
      { kind: "answer", requestId: line.requestId, attempt: 0, answer: ok("second") },
    ]);
    expect((await store.requests.outcome(line.requestId))?.answer).toEqual(ok("first"));
    expect(await recent.peek(line.requestId)).toEqual({ state: "succeeded", answer: ok("first") });
  });
});

describe("telling the callers before caching (answer, then its follow-up)", () => {
  it("announces a success the tier serves before its MongoDB entry; the follow-up caches it and frees its key", async () => {
    const lines = [
      { requestId: "req_told_ok", attempt: 0, key: "key-told-ok", owner: "t1" },
      { requestId: "req_told_big", attempt: 0, key: "key-told-big", owner: "t1" },
      { requestId: "req_told_failed", attempt: 0, key: "key-told-failed", owner: "t1" },
    ];
    for (const line of lines) expect(await inflight.claim(line.key, line.requestId)).toBe(line.requestId);
    // Over the tier's 1,024 bytes: only MongoDB's cache can serve it.
    const big = ok("b".repeat(2000));
    const failed = errorAnswer(400, "bad line");
    const done = await recorder.answer(batch("bgb_told", lines), [
      { kind: "answer", requestId: "req_told_ok", attempt: 0, answer: ok("told") },
      { kind: "answer", requestId: "req_told_big", attempt: 0, answer: big },
      { kind: "answer", requestId: "req_told_failed", attempt: 0, answer: failed },
    ]);
    expect(done).toMatchObject({ finished: 3, resubmitted: 0 });
    // Every caller is told, each outcome stored (the large one too large to travel: read from MongoDB).
    expect(await recent.peekMany(lines.map((l) => l.requestId))).toEqual([
      { state: "succeeded", answer: ok("told") },
      "stored",
      { state: "failed", answer: failed },
    ]);
    expect(await store.requests.outcome("req_told_ok")).toMatchObject({ state: "succeeded" });
    // Every key is freed: an identical request with no-cache (or after the failure) starts anew.
    for (const line of lines) expect(await inflight.leader(line.key)).toBeNull();
    // The small success: a hit in the tier at once (the gateway looks there first), and marked cached at
    // once, so a gateway that missed the tier just before finds no free key to start a second line
    // with; its MongoDB entry comes with the follow-up.
    expect(await tier.get("key-told-ok")).toMatchObject({ body: ok("told").body });
    expect(await store.cache.get("key-told-ok")).toBeNull();
    expect(await inflight.isCached("key-told-ok")).toBe(true);
    expect(await inflight.claimUnlessCached("key-told-ok", "req_told_twin", true)).toBeNull();
    // The large success kept the old order: cached in MongoDB and marked before it was announced.
    expect(await tier.get("key-told-big")).toBeNull();
    expect(await store.cache.get("key-told-big")).toMatchObject({ body: big.body });
    expect(await inflight.isCached("key-told-big")).toBe(true);
    expect(await inflight.isCached("key-told-failed")).toBe(false);
    // A no-cache repeat took the freed key meanwhile: the follow-up must leave its claim alone.
    expect(await inflight.claim("key-told-ok", "req_told_fresh")).toBe("req_told_fresh");

    await done.followUp();
    expect(await store.cache.get("key-told-ok")).toMatchObject({ owner: "t1", body: ok("told").body });
    expect(await inflight.isCached("key-told-ok")).toBe(true);
    expect(await inflight.leader("key-told-ok")).toBe("req_told_fresh");
    // Safe to repeat (a poller that died after it, before the batch was marked settled).
    await done.followUp();
    expect(await store.cache.get("key-told-ok")).toMatchObject({ body: ok("told").body });
  });

  it("writes no MongoDB entry for an answer whose tier entry went meanwhile (an erase deleted it)", async () => {
    const line = { requestId: "req_told_erased", attempt: 0, key: "key-told-erased", owner: "t1" };
    expect(await inflight.claim(line.key, line.requestId)).toBe(line.requestId);
    const done = await recorder.answer(batch("bgb_told_erased", [line]), [
      { kind: "answer", requestId: line.requestId, attempt: 0, answer: ok("erase me") },
    ]);
    // What an erase of the request does to Redis (`forgetCopies`): its tier entry and marker go.
    await redis.del(keys.cacheTier(line.key), keys.cached(line.key));
    await done.followUp();
    expect(await store.cache.get(line.key)).toBeNull();
    expect(await inflight.isCached(line.key)).toBe(false);
  });

  it("a repeat after a crash between telling and the follow-up finishes the follow-up's work", async () => {
    const line = { requestId: "req_told_crash", attempt: 0, key: "key-told-crash", owner: "t1" };
    expect(await inflight.claim(line.key, line.requestId)).toBe(line.requestId);
    const outcome = { kind: "answer" as const, requestId: line.requestId, attempt: 0, answer: ok("once") };
    // The follow-up never ran: the poller died.
    await recorder.answer(batch("bgb_told_crash", [line]), [outcome]);
    expect(await store.cache.get(line.key)).toBeNull();
    await recorder.deliver(batch("bgb_told_crash", [line]), [{ ...outcome, answer: ok("twice") }]);
    expect((await store.requests.outcome(line.requestId))?.answer).toEqual(ok("once"));
    expect(await store.cache.get(line.key)).toMatchObject({ body: ok("once").body });
    expect(await inflight.isCached(line.key)).toBe(true);
    expect(await inflight.leader(line.key)).toBeNull();
  });
});

describe("an answer that cannot be stored", () => {
  it("fails alone, with an error its caller reads; its neighbours are stored as usual", async () => {
    const lines = [
      { requestId: "req_unstorable", attempt: 0, key: "key-unstorable", owner: "t1" },
      { requestId: "req_storable", attempt: 0, key: "key-storable", owner: "t1" },
    ];
    for (const line of lines) expect(await inflight.claim(line.key, line.requestId)).toBe(line.requestId);
    // Its usage alone is over MongoDB's 16 MiB document limit (the body is kept in parts, usage is not).
    const unstorable = {
      statusCode: 200,
      body: JSON.stringify({ text: "big", usage: { note: "u".repeat(17 * 1024 * 1024) } }),
    };
    const result = await recorder.deliver(batch("bgb_unstorable", lines), [
      { kind: "answer", requestId: "req_unstorable", attempt: 0, answer: unstorable },
      { kind: "answer", requestId: "req_storable", attempt: 0, answer: ok("fine") },
    ]);
    expect(result).toEqual({ finished: 2, resubmitted: 0 });
    const failed = await store.requests.outcome("req_unstorable");
    expect(failed).toMatchObject({ state: "failed", answer: { statusCode: 500 } });
    expect(JSON.parse(failed!.answer.body).error).toMatchObject({ code: "answer_not_stored" });
    expect(await recent.peek("req_unstorable")).toMatchObject({ state: "failed" });
    expect(await inflight.leader("key-unstorable")).toBeNull();
    expect(await inflight.isCached("key-unstorable")).toBe(false);
    expect(await store.requests.outcome("req_storable")).toMatchObject({ state: "succeeded" });
    expect(await store.cache.get("key-storable")).toMatchObject({ body: ok("fine").body });
  });
});

describe("a resubmitted request", () => {
  it("keeps its dedup key for a whole life again, so the key outlives the request", async () => {
    const key = "key-resubmitted";
    await store.requests.ensure([job("req_resub", key)]);
    await store.fences.claim("line:req_resub:0", "bgb_resub");
    expect(await inflight.claim(key, "req_resub")).toBe("req_resub");
    // Days into its life (a batch that expired after 24 hours, say): a few seconds left.
    await redis.expire(keys.inflight(key), 5);
    const result = await recorder.deliver(batch("bgb_resub"), [
      { kind: "unfinished", requestId: "req_resub", attempt: 0, answer: errorAnswer(503, "expired") },
    ]);
    expect(result).toEqual({ finished: 0, resubmitted: 1 });
    expect(await inflight.leader(key)).toBe("req_resub");
    expect(await redis.ttl(keys.inflight(key))).toBeGreaterThan(24 * 3600);
  });
});
