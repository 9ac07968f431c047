import { redisKeys, requestKey } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { eventually, type Stack, services, spawnApp, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A poller tells a batch's callers once their outcomes are stored, their answers in Redis's cache tier
// and their dedup keys freed; MongoDB's cache entries and the `cached` markers follow (the batch is
// marked settled only after them). A poller killed in between leaves every caller answered and no
// entries: an identical request must still be a hit, and the next poller must finish the rest.

let stack: Stack;
let redis: ReturnType<typeof createRedis>;
beforeAll(async () => {
  // No in-process poller: the test starts them. Held callers re-check the store rarely, so only a
  // wake-up (a publish) or the announced answer in Redis can answer them in time.
  stack = await startStack({ pollers: 0, env: { WAITER_RECHECK_MS: "600000" } });
  redis = createRedis(services().redisUrl, "client");
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const model = "gpt-told-then-killed";
const chat = (content: string) => ({ model, messages: [{ role: "user" as const, content }] });

async function ask(content: string) {
  const { data, response } = await stack.client.chat.completions.create(chat(content)).withResponse();
  return { content: data.choices[0]?.message.content, cache: response.headers.get("x-batch-cache") };
}

async function linesSubmitted(): Promise<number> {
  const stats = await stack.emulatorStats();
  return stats.batches.filter((b) => b.model === model).reduce((n, b) => n + b.lines, 0);
}

describe("a poller killed after telling a batch's callers, before caching their answers", () => {
  it("leaves identical requests answered once, and a restarted poller caches and frees the rest", async () => {
    const keys = redisKeys(stack.env.BULL_PREFIX!);
    const prompts = ["told p", "told q"];
    const [keyP, keyQ] = prompts.map((p) => requestKey("anonymous", "/v1/chat/completions", chat(p)));
    const doomed = spawnApp("poller", { ...stack.env, BATCH_GPT_CRASH_AT: "poll.announced" });
    expect(await Promise.all(prompts.map(ask))).toEqual(
      prompts.map((p) => ({ content: `echo: ${p}`, cache: "miss" })),
    );
    expect(await doomed.exited).toBe(-1);

    // What it left: the answers in the tier and their keys marked cached (as they were told), the keys
    // freed, no MongoDB entry.
    expect(await redis.exists(keys.cacheTier(keyP!), keys.cacheTier(keyQ!))).toBe(2);
    expect(await redis.exists(keys.inflight(keyP!), keys.inflight(keyQ!))).toBe(0);
    expect(await redis.exists(keys.cached(keyP!), keys.cached(keyQ!))).toBe(2);
    expect(await stack.store.mongo.collections.cache.countDocuments({})).toBe(0);
    const [record] = await stack.store.mongo.collections.batches.find({ model }).toArray();
    expect(record?.state).toBe("submitted");

    // An identical request meanwhile is a hit in the tier, not sent to the provider again.
    expect(await ask("told p")).toEqual({ content: "echo: told p", cache: "hit" });
    expect(await ask("told q")).toEqual({ content: "echo: told q", cache: "hit" });
    expect(await linesSubmitted()).toBe(2);

    // The next poller delivers the batch again: entries written, keys marked cached, batch settled.
    await stack.startPoller();
    await eventually(
      async () =>
        (await stack.store.mongo.collections.batches.findOne({ _id: record!._id }))?.state === "done",
      30_000,
      "the batch settled",
    );
    expect(await stack.store.mongo.collections.cache.countDocuments({})).toBe(2);
    expect(await redis.exists(keys.inflight(keyP!), keys.inflight(keyQ!))).toBe(0);
    expect(await redis.exists(keys.cached(keyP!), keys.cached(keyQ!))).toBe(2);
    // Its tier entry gone, the answer is a hit all the same: through the marker and MongoDB's entry.
    await redis.del(keys.cacheTier(keyQ!));
    expect(await ask("told q")).toEqual({ content: "echo: told q", cache: "hit" });
    expect(await linesSubmitted()).toBe(2);
  });
});
