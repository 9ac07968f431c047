import { createLogger } from "@batch-gpt/config";
import { type CollateJob, errorAnswer, redisKeys } from "@batch-gpt/contracts";
import { createRedis, DonePublisher, Inflight, QueueRegistry } from "@batch-gpt/queue";
import { openTestStore, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutcomeRecorder } from "./outcomes.ts";

// The outcome recorder against the real store and Redis, from states a crash leaves behind.

const log = createLogger("outcomes-test", "silent");
let store: Awaited<ReturnType<typeof openTestStore>>;
let redis: ReturnType<typeof createRedis>;
let queues: QueueRegistry;
let inflight: Inflight;
let recorder: OutcomeRecorder;

beforeAll(async () => {
  store = await openTestStore("outcomes");
  const prefix = uniqueName("q");
  const keys = redisKeys(prefix);
  redis = createRedis(services().redisUrl, "worker");
  queues = new QueueRegistry({ redisUrl: services().redisUrl, prefix, log });
  inflight = new Inflight(redis, keys);
  recorder = new OutcomeRecorder({
    store,
    inflight,
    publisher: new DonePublisher(redis, keys),
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

const job = (requestId: string, key: string): CollateJob => ({
  requestId,
  attempt: 0,
  owner: "anonymous",
  provider: "openai",
  endpoint: "/v1/chat/completions",
  model: "m",
  body: "{}",
  key,
  traceId: "trace",
  createdAt: Date.now(),
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
    await recorder.deliver("bgb_fin", [{ kind: "answer", requestId: "req_fin", attempt: 0, answer }]);
    // Else every identical request for days would attach to this failure instead of trying again.
    expect(await inflight.leader(key)).toBeNull();
  });
});
