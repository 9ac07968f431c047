import { redisKeys, requestKey } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let redis: ReturnType<typeof createRedis>;
beforeAll(async () => {
  stack = await startStack({ env: { WAITER_RECHECK_MS: "300" } });
  redis = createRedis(stack.env.REDIS_URL!, "client");
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const chat = (content: string) => ({ model: "gpt-ghost", messages: [{ role: "user" as const, content }] });

/** What a gateway that died between claiming a request and queueing it leaves behind. */
async function orphanClaim(content: string) {
  const key = requestKey("anonymous", "/v1/chat/completions", chat(content));
  await redis.set(redisKeys(stack.env.BULL_PREFIX!).inflight(key), "req_ghost0000000000000000", "EX", 600);
}

describe("a request that exists nowhere any more", () => {
  it("answers its attached caller 503 request_lost instead of holding it forever, and frees the key", async () => {
    await orphanClaim("ghost one");
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("ghost one")),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "request_lost", type: "server_error" } });
    const again = await stack.client.chat.completions.create(chat("ghost one"));
    expect(again.choices[0]?.message.content).toBe("echo: ghost one");
  });

  it("lets the SDK's own retry of that 503 get the answer", async () => {
    await orphanClaim("ghost two");
    const client = stack.clientFor(stack.gateways[0]!, { maxRetries: 2 });
    const answer = await client.chat.completions.create(chat("ghost two"));
    expect(answer.choices[0]?.message.content).toBe("echo: ghost two");
  });
});
