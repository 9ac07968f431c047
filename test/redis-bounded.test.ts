import { redisKeys, requestKey } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { eventually, type Stack, services, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Redis does not grow for ever: every key the system writes has a bounded life. The `cached` marker
// lives CACHE_MARKER_TTL_SECONDS; after it is gone, MongoDB's cache still answers.

let stack: Stack;
let redis: ReturnType<typeof createRedis>;
beforeAll(async () => {
  // No Redis tier: a repeat is answered through the marker and MongoDB only.
  stack = await startStack({ env: { CACHE_MARKER_TTL_SECONDS: "2", CACHE_REDIS_TTL_SECONDS: "0" } });
  redis = createRedis(services().redisUrl, "client");
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });

async function ask(content: string) {
  const { data, response } = await stack.client.chat.completions.create(chat(content)).withResponse();
  return { content: data.choices[0]?.message.content, cache: response.headers.get("x-batch-cache") };
}

describe("the cached marker", () => {
  it("has a bounded life, and once it is gone the answer still comes from MongoDB's cache", async () => {
    expect(await ask("remember me")).toEqual({ content: "echo: remember me", cache: "miss" });
    const keys = redisKeys(stack.env.BULL_PREFIX!);
    const marker = keys.cached(requestKey("anonymous", "/v1/chat/completions", chat("remember me")));
    // Every key written per request or per answer has a life (the few fixed keys do not grow).
    const ours = (await redis.keys(`${stack.env.BULL_PREFIX}:*`)).filter((key) =>
      /:(inflight|cached|cache|answer|call):/.test(key),
    );
    expect(ours).toContain(marker);
    const forever = [];
    for (const key of ours) if ((await redis.ttl(key)) === -1) forever.push(key);
    expect(forever).toEqual([]);
    expect(await redis.ttl(marker)).toBeGreaterThan(0);
    expect(await ask("remember me")).toEqual({ content: "echo: remember me", cache: "hit" });

    await eventually(async () => (await redis.exists(marker)) === 0, 10_000, "the marker to expire");
    const lines = (await stack.emulatorStats()).linesSubmitted;
    const again = await ask("remember me");
    expect(again.content).toBe("echo: remember me");
    // Not sent to the provider again: MongoDB's cache answered, and the marker is back.
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines);
    expect(await redis.exists(marker)).toBe(1);
    expect(await ask("remember me")).toEqual({ content: "echo: remember me", cache: "hit" });
  });
});
