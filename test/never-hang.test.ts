import { redisKeys, requestKey } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
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

  it("frees the key when an async caller finds its request lost, so the next identical call starts afresh", async () => {
    await orphanClaim("ghost async");
    const url = stack.gateways[0]!.url;
    const submit = async () => {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-batch-mode": "async" },
        body: JSON.stringify(chat("ghost async")),
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const lost = await fetch(`${url}/v1/requests/${await submit()}`);
    expect(lost.status).toBe(503);
    expect(await lost.json()).toMatchObject({ error: { code: "request_lost" } });
    // Else every identical async call would attach to the ghost for as long as its key lives (days).
    const id = await submit();
    const answered = await eventually(async () => {
      const res = await fetch(`${url}/v1/requests/${id}`);
      return res.status === 200
        ? ((await res.json()) as { choices: { message: { content: string } }[] })
        : undefined;
    });
    expect(answered.choices[0]?.message.content).toBe("echo: ghost async");
  });
});
