import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const body = (content: string, model = "gpt-4o-mini") => ({
  model,
  messages: [{ role: "user" as const, content }],
});

async function post(path: string, json: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.gateways[0]!.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
    body: JSON.stringify(json),
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

describe("cache", () => {
  it("answers a repeated request from the cache at once, without a new batch line", async () => {
    const first = await stack.client.chat.completions.create(body("cache me")).withResponse();
    expect(first.response.headers.get("x-batch-cache")).toBe("miss");
    const lines = (await stack.emulatorStats()).linesSubmitted;
    // Same content, keys in another order: the same request.
    const again = await post("/v1/chat/completions", {
      messages: [{ content: "cache me", role: "user" }],
      model: "gpt-4o-mini",
    });
    expect(again.res.status).toBe(200);
    expect(again.res.headers.get("x-batch-cache")).toBe("hit");
    expect(again.json).toEqual(JSON.parse(JSON.stringify(first.data)));
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines);
  });

  it("skips the lookup on Cache-Control: no-cache", async () => {
    await stack.client.chat.completions.create(body("fresh please"));
    const lines = (await stack.emulatorStats()).linesSubmitted;
    const res = await post("/v1/chat/completions", body("fresh please"), { "cache-control": "no-cache" });
    expect(res.res.headers.get("x-batch-cache")).toBe("miss");
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines + 1);
  });

  it("in cache mode answers hits and says 404 for misses", async () => {
    await stack.client.chat.completions.create(body("cached for cache mode"));
    const hit = await post("/v1/chat/completions", body("cached for cache mode"), {
      "x-batch-mode": "cache",
    });
    expect(hit.res.status).toBe(200);
    const miss = await post("/v1/chat/completions", body("never asked"), { "x-batch-mode": "cache" });
    expect(miss.res.status).toBe(404);
    expect(miss.json).toMatchObject({ error: { code: "cache_miss", type: "invalid_request_error" } });
  });
});

describe("in-flight dedup", () => {
  it("lets identical concurrent requests share one batch line and fans the answer out", async () => {
    const before = (await stack.emulatorStats()).linesSubmitted;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => stack.client.chat.completions.create(body("shared line"))),
    );
    for (const answer of answers) expect(answer.choices[0]?.message.content).toBe("echo: shared line");
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect((await stack.emulatorStats()).linesSubmitted).toBe(before + 1);
  });

  it("treats a streamed and a plain request for the same content as one request", async () => {
    const before = (await stack.emulatorStats()).linesSubmitted;
    // (`stream_options` is only valid with `stream: true`, as OpenAI has it: an async call cannot stream.)
    const [plain, streamed] = await Promise.all([
      stack.client.chat.completions.create(body("stream or not")),
      stack.client.chat.completions.create({
        ...body("stream or not"),
        stream: true,
        stream_options: { include_usage: true },
      }),
    ]);
    expect(plain.choices[0]?.message.content).toBe("echo: stream or not");
    let text = "";
    for await (const chunk of streamed) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("echo: stream or not");
    expect((await stack.emulatorStats()).linesSubmitted).toBe(before + 1);
  });
});

describe("async mode", () => {
  it("answers 202 with an id of its own, then the completion once the batch is done", async () => {
    const created = await post("/v1/chat/completions", body("later please"), { "x-batch-mode": "async" });
    expect(created.res.status).toBe(202);
    expect(created.json).toMatchObject({ object: "chat.completion", status: "queued" });
    const id = created.json.id as string;
    expect(id).toMatch(/^chatcmpl-/);

    const second = await post("/v1/chat/completions", body("later please"), { "x-batch-mode": "async" });
    expect(second.json.id).not.toBe(id);

    const done = await eventually(
      async () => {
        const completion = await stack.client.chat.completions.retrieve(id).withResponse();
        return completion.response.status === 200 ? completion.data : undefined;
      },
      30_000,
      "async answer",
    );
    expect(done.choices[0]?.message.content).toBe("echo: later please");
    const viaRequests = await fetch(`${stack.gateways[0]!.url}/v1/requests/${second.json.id}`);
    expect(viaRequests.status).toBe(200);
    expect(
      ((await viaRequests.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message
        .content,
    ).toBe("echo: later please");
  });

  it("says 404 in OpenAI's shape for an unknown id", async () => {
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions/chatcmpl-unknown`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });

  it("answers a cache hit in async mode with 200 at once", async () => {
    await stack.client.chat.completions.create(body("async hit"));
    const hit = await post("/v1/chat/completions", body("async hit"), { "x-batch-mode": "async" });
    expect(hit.res.status).toBe(200);
    expect(hit.res.headers.get("x-batch-cache")).toBe("hit");
  });

  it("refuses stream: true together with async mode", async () => {
    const res = await post(
      "/v1/chat/completions",
      { ...body("no"), stream: true },
      { "x-batch-mode": "async" },
    );
    expect(res.res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: "stream" } });
  });
});

describe("intake validation", () => {
  it.each([
    ["invalid JSON", "{not json", 400],
    ["a JSON array", "[]", 400],
    ["no model", JSON.stringify({ messages: [{ role: "user", content: "x" }] }), 400],
    ["no messages", JSON.stringify({ model: "m" }), 400],
  ])("answers %s with OpenAI's 400 body", async (_, raw, status) => {
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: raw,
    });
    expect(res.status).toBe(status);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const json = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
  });

  it("answers an oversized body with 413 and an unknown route with 404, both OpenAI-shaped", async () => {
    const big = await post("/v1/chat/completions", body("x".repeat(9 * 1024 * 1024)));
    expect(big.res.status).toBe(413);
    expect(big.json).toHaveProperty("error.message");
    const unknown = await fetch(`${stack.gateways[0]!.url}/v1/nothing-here`, { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { message: "Invalid URL (POST /v1/nothing-here)" } });
  });

  it("refuses invalid UTF-8 (3 MB of 0xFF bytes, 9 MB once decoded leniently) before anything is queued", async () => {
    // Decoded leniently, each 0xFF byte would become U+FFFD, three bytes of UTF-8: 9 MB queued and sent.
    // It is refused outright: the text is not what the client meant, and not valid JSON text either.
    const head = Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"');
    const tail = Buffer.from('"}]}');
    const raw = Buffer.concat([head, Buffer.alloc(3 * 1024 * 1024, 0xff), tail]);
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: raw,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_utf8" } });
  });

  it("answers a chunked body over the limit 413 without reading it all", async () => {
    const chunks = async function* () {
      yield Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"');
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1024 * 1024, 0x61);
      yield Buffer.from('"}]}');
    };
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: ReadableStream.from(chunks()),
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it("refuses an unknown x-batch-mode", async () => {
    const res = await post("/v1/chat/completions", body("mode?"), { "x-batch-mode": "sometimes" });
    expect(res.res.status).toBe(400);
  });
});
