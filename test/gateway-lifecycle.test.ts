import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { createRedis } from "@batch-gpt/queue";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  // A long batch, so callers are still held when the test acts on them.
  stack = await startStack({ gateways: 3, batchDurationMs: 1500 });
});
afterAll(() => stack?.close());

const chat = (content: string) => ({ model: "gpt-life", messages: [{ role: "user" as const, content }] });

describe("a gateway that shuts down", () => {
  it("finishes a request under way (its body still coming) instead of cutting its connection", async () => {
    const leaving = stack.gateways[1]!;
    const body = JSON.stringify({ ...chat("arriving slowly"), model: "gpt-life-drain" });
    const half = Math.floor(body.length / 2);
    const { hostname, port } = new URL(leaving.url);
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          hostname,
          port,
          path: "/v1/chat/completions",
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(body)),
            "x-batch-mode": "async",
          },
        },
        (res) => {
          let text = "";
          res.on("data", (chunk) => {
            text += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, half));
      // The rest comes once the gateway has begun to stop.
      setTimeout(() => req.end(body.slice(half)), 500);
    });
    await sleep(200);
    const closing = leaving.close();
    stack.gateways.splice(1, 1);
    const { status, body: text } = await reply;
    expect(status).toBe(202);
    expect(JSON.parse(text)).toMatchObject({ status: "queued" });
    await closing;
  });
});

describe("held callers", () => {
  it("a caller that disconnects frees its waiter; the request still completes and is cached", async () => {
    const gateway = stack.gateways[0]!;
    const abort = new AbortController();
    const pending = fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("I will hang up")),
      signal: abort.signal,
    }).catch(() => "aborted");
    await eventually(() => gateway.deps.waiters.size === 1, 10_000, "the caller to be held");
    abort.abort();
    expect(await pending).toBe("aborted");
    await eventually(() => gateway.deps.waiters.size === 0, 10_000, "the waiter to be freed");
    const cached = await eventually(
      async () => {
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-batch-mode": "cache" },
          body: JSON.stringify(chat("I will hang up")),
        });
        return res.status === 200 ? res : undefined;
      },
      30_000,
      "the abandoned request's answer in the cache",
    );
    expect(cached.headers.get("x-batch-cache")).toBe("hit");
  });

  it("a gateway that shuts down answers its held callers 503 (retry), and the retry elsewhere gets the answer", async () => {
    const leaving = stack.gateways[1]!;
    const held = fetch(`${leaving.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("moving house")),
    });
    await eventually(() => leaving.deps.waiters.size === 1, 10_000, "the caller to be held");
    await leaving.close();
    stack.gateways.splice(1, 1);
    const res = await held;
    expect(res.status).toBe(503);
    expect(res.headers.get("x-should-retry")).not.toBe("false");
    expect(await res.json()).toMatchObject({ error: { code: "server_shutting_down" } });
    const retried = await stack.client.chat.completions.create(chat("moving house"));
    expect(retried.choices[0]?.message.content).toBe("echo: moving house");
    const lines = (await stack.emulatorStats()).batches.filter((b) => b.model === "gpt-life");
    expect(lines.reduce((n, b) => n + b.lines, 0)).toBe(2); // one per distinct request, none for the retry
  });
});

describe("secrets", () => {
  it("never writes the OpenAI key or a client key to Redis or Mongo", async () => {
    await stack
      .clientFor(stack.gateways[0]!, { apiKey: "sk-client-secret-123" })
      .chat.completions.create(chat("secret check"));
    const redis = createRedis(stack.env.REDIS_URL!, "client");
    try {
      const keys = await redis.keys(`${stack.env.BULL_PREFIX}*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const type = await redis.type(key);
        const dump = JSON.stringify(
          type === "string"
            ? await redis.get(key)
            : type === "hash"
              ? await redis.hgetall(key)
              : type === "list"
                ? await redis.lrange(key, 0, -1)
                : type === "zset"
                  ? await redis.zrange(key, "0", "-1")
                  : type === "set"
                    ? await redis.smembers(key)
                    : type === "stream"
                      ? await redis.xrange(key, "-", "+")
                      : "",
        );
        expect(dump).not.toContain(stack.env.OPENAI_API_KEY);
        expect(dump).not.toContain("sk-client-secret-123");
      }
    } finally {
      redis.disconnect();
    }
    for (const name of ["requests", "answers", "batches", "cache", "calls", "fences"] as const) {
      const docs = JSON.stringify(await stack.store.mongo.collections[name].find({}).toArray());
      expect(docs).not.toContain(stack.env.OPENAI_API_KEY);
      expect(docs).not.toContain("sk-client-secret-123");
    }
  });
});
