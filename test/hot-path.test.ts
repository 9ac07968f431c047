import { setTimeout as sleep } from "node:timers/promises";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The hot path runs on Redis: cache hits come from its tier, wake-ups carry small answers; MongoDB
// stays the system of record behind it (large answers, entries older than the tier keeps).

let stack: Stack;
let ttlStack: Stack;
let slowStack: Stack;
beforeAll(async () => {
  [stack, ttlStack, slowStack] = await Promise.all([
    // Answers above 1,200 bytes are too large to travel in a wake-up or sit in the Redis tier.
    startStack({ env: { ANSWER_CARRY_MAX_BYTES: "1200", CACHE_REDIS_MAX_ENTRY_BYTES: "1200" } }),
    startStack({ env: { CACHE_TTL_SECONDS: "2" } }),
    // Batches that take a while: a request stays pending, recorded in its batch.
    startStack({ batchDurationMs: 8000 }),
  ]);
});
afterAll(() => Promise.all([stack?.close(), ttlStack?.close(), slowStack?.close()]));

const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });

async function ask(on: Stack, content: string) {
  const { data, response } = await on.client.chat.completions.create(chat(content)).withResponse();
  return { content: data.choices[0]?.message.content, cache: response.headers.get("x-batch-cache") };
}

describe("the Redis cache tier", () => {
  it("serves a hit from Redis: MongoDB's entry is not read", async () => {
    expect(await ask(stack, "tier")).toEqual({ content: "echo: tier", cache: "miss" });
    // Gone from MongoDB, still in Redis: only the tier can answer this hit.
    await stack.store.mongo.collections.cache.deleteMany({});
    expect(await ask(stack, "tier")).toEqual({ content: "echo: tier", cache: "hit" });
  });

  it("keeps large answers out of Redis: they are answered and cached through MongoDB", async () => {
    const long = `large ${"x".repeat(1500)}`;
    expect(await ask(stack, long)).toEqual({ content: `echo: ${long}`, cache: "miss" });
    const lines = (await stack.emulatorStats()).linesSubmitted;
    expect(await ask(stack, long)).toEqual({ content: `echo: ${long}`, cache: "hit" });
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines);
  });

  it("honours CACHE_TTL_SECONDS for entries served from Redis", async () => {
    expect(await ask(ttlStack, "short-lived")).toEqual({ content: "echo: short-lived", cache: "miss" });
    expect(await ask(ttlStack, "short-lived")).toEqual({ content: "echo: short-lived", cache: "hit" });
    await sleep(2_500);
    expect(await ask(ttlStack, "short-lived")).toEqual({ content: "echo: short-lived", cache: "miss" });
  });
});

describe("answers kept in Redis", () => {
  it("an async call's answer is fetched from Redis while it is recent", async () => {
    const url = stack.gateways[0]!.url;
    const accepted = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify(chat("fetch me later")),
    });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    const fetchIt = () => fetch(`${url}/v1/requests/${id}`);
    await eventually(async () => (await fetchIt()).status === 200, 30_000, "the answer");
    // Gone from MongoDB: only Redis can still answer.
    await stack.store.mongo.collections.answers.deleteMany({});
    const again = await fetchIt();
    expect(again.status).toBe(200);
    expect(
      ((await again.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content,
    ).toBe("echo: fetch me later");
  });

  it("a pending async call fetched again and again is looked for in MongoDB once, not at every fetch", async () => {
    const url = slowStack.gateways[0]!.url;
    const accepted = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify(chat("pending a while")),
    });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    const fetchIt = async () => {
      const res = await fetch(`${url}/v1/requests/${id}`);
      return { status: res.status, body: (await res.json()) as { status?: string } };
    };
    // Collated: its job is gone from Redis, its record is in MongoDB, and the store says in progress.
    const { requests } = slowStack.store.mongo.collections;
    await eventually(async () => (await requests.countDocuments({})) === 1, 30_000, "the request recorded");
    await eventually(
      async () => (await fetchIt()).body.status === "in_progress",
      30_000,
      "the call in progress",
    );
    // Gone from MongoDB: a fetch that read the store would find no job and no record, and call it lost.
    const [request] = await requests.find({}).toArray();
    await requests.deleteMany({});
    for (let i = 0; i < 5; i++)
      expect(await fetchIt()).toMatchObject({ status: 202, body: { status: "in_progress" } });
    await requests.insertOne(request!);
    await eventually(async () => (await fetchIt()).status === 200, 30_000, "the answer");
  });
});
