import { type CollateJob, collateQueue, redisKeys, requestKey } from "@batch-gpt/contracts";
import { createRedis, QueueRegistry } from "@batch-gpt/queue";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Work the previous format version left in Redis and MongoDB is finished by this one: jobs without a
// format version, batch records without a line manifest, wake-ups without the answer in them.

let stack: Stack;
let redis: ReturnType<typeof createRedis>;
let queues: QueueRegistry;
beforeAll(async () => {
  stack = await startStack({ batchDurationMs: 1500 });
  redis = createRedis(stack.env.REDIS_URL!, "client");
  queues = new QueueRegistry({
    redisUrl: stack.env.REDIS_URL!,
    prefix: stack.env.BULL_PREFIX!,
    log: console,
  });
});
afterAll(async () => {
  await queues?.close();
  redis?.disconnect();
  await stack?.close();
});

const chat = (content: string, model = "gpt-4o-mini") => ({
  model,
  messages: [{ role: "user" as const, content }],
});

describe("data written by the previous version", () => {
  it("a queued job without a format version is collated, and a caller attached to it is answered", async () => {
    const body = chat("queued by the old gateway");
    const key = requestKey("anonymous", "/v1/chat/completions", body);
    const requestId = "req_0ld0000000000000000000a1";
    // What the previous gateway left: the dedup claim and a job of the old format (no `v`).
    await redis.set(redisKeys(stack.env.BULL_PREFIX!).inflight(key), requestId, "EX", 600);
    const oldJob: CollateJob = {
      requestId,
      attempt: 0,
      owner: "anonymous",
      provider: "openai",
      endpoint: "/v1/chat/completions",
      model: body.model,
      body: JSON.stringify(body),
      key,
      traceId: "old-trace",
      createdAt: Date.now(),
    };
    await queues.producer(collateQueue).add(oldJob);
    const answer = await stack.client.chat.completions.create(body);
    expect(answer.choices[0]?.message.content).toBe("echo: queued by the old gateway");
    expect(await stack.store.requests.outcome(requestId)).toMatchObject({ state: "succeeded" });
  });

  it("a submitted batch record without a line manifest settles line by line", async () => {
    const model = "gpt-upgrade-manifest";
    const prompts = ["m1", "m2", "m3"];
    const answers = Promise.all(prompts.map((p) => stack.client.chat.completions.create(chat(p, model))));
    const record = await eventually(
      async () => {
        const found = await stack.store.mongo.collections.batches.findOne({ model, state: "submitted" });
        return found ?? undefined;
      },
      20_000,
      "the batch to be submitted",
    );
    // Make it what earlier versions wrote: no format version, no manifest, its line list an array.
    await stack.store.mongo.collections.batchLines.deleteMany({ recordId: record._id });
    const lines = JSON.parse(record.linesText ?? "[]") as string[];
    expect(lines).toHaveLength(3);
    await stack.store.mongo.collections.batches.updateOne(
      { _id: record._id },
      { $unset: { v: "", linesText: "" }, $set: { lines } },
    );
    const results = await answers;
    expect(results.map((r) => r.choices[0]?.message.content)).toEqual(prompts.map((p) => `echo: ${p}`));
    expect(await stack.store.lines.read(record._id)).toEqual(new Map());
  });
});
