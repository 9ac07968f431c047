import { randomBytes } from "node:crypto";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const unique = (label: string) => `${label} ${randomBytes(4).toString("hex")}`;

describe("streamed callers held across keep-alives", () => {
  let stack: Stack;
  beforeAll(async () => {
    // Keep-alives due long before any batch answers: every stream starts before its answer exists.
    stack = await startStack({ env: { SSE_KEEPALIVE_MS: "100" } });
  });
  afterAll(() => stack?.close());

  const post = (body: unknown, signal?: AbortSignal) =>
    fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-client" },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });

  it("sends keep-alive comments while waiting, then the chunks and [DONE]", async () => {
    const prompt = unique("kept alive");
    const res = await post({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: prompt }],
      stream: true,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const text = await res.text();
    expect(text.startsWith(": keep-alive\n\n")).toBe(true);
    const data = text
      .split("\n\n")
      .filter((f) => f.startsWith("data: "))
      .map((f) => f.slice(6));
    expect(data.at(-1)).toBe("[DONE]");
    const content = data
      .slice(0, -1)
      .map((d) => JSON.parse(d) as OpenAI.ChatCompletionChunk)
      .map((c) => c.choices[0]?.delta.content ?? "")
      .join("");
    expect(content).toBe(`echo: ${prompt}`);
  });

  it("gives the SDK the same content as the plain answer", async () => {
    const prompt = unique("sdk kept alive");
    const messages = [{ role: "user" as const, content: prompt }];
    const stream = await stack.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    const plain = await stack.client.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(text).toBe(plain.choices[0]?.message.content);
  });

  it("delivers a failure after the stream started as a data error event, then closes", async () => {
    const prompt = unique("[[fail:429]]");
    const res = await post({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: prompt }],
      stream: true,
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("[DONE]");
    const last = text.trim().split("\n\n").at(-1)!;
    expect(last.startsWith("data: ")).toBe(true);
    const event = JSON.parse(last.slice(6)) as { error: { code: string; type: string } };
    expect(event.error.code).toBe("rate_limit_exceeded");

    const sdkFailure = await (async () => {
      const stream = await stack.client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: unique("[[fail:500]]") }],
        stream: true,
      });
      try {
        for await (const _ of stream);
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(sdkFailure).toBeInstanceOf(OpenAI.APIError);
    expect((sdkFailure as InstanceType<typeof OpenAI.APIError>).type).toBe("server_error");
  });

  it("fails a streamed Responses call with an error event the SDK raises", async () => {
    const stream = await stack.client.responses.create({
      model: "gpt-4o-mini",
      input: unique("[[fail:400]]"),
      stream: true,
    });
    const types: string[] = [];
    const failure = await (async () => {
      try {
        for await (const event of stream) types.push(event.type);
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(types).toEqual([]);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
  });

  it("frees a vanished caller's waiter; the request still completes and is cached", async () => {
    const prompt = unique("gone");
    const messages = [{ role: "user", content: prompt }];
    const abort = new AbortController();
    const res = await post({ model: "gpt-4o-mini", messages, stream: true }, abort.signal);
    const reader = res.body!.getReader();
    await reader.read(); // the first keep-alive: the caller is held
    const gateway = stack.gateways[0]!;
    expect(gateway.deps.waiters.size).toBeGreaterThan(0);
    abort.abort();
    await eventually(() => gateway.deps.waiters.size === 0, 10_000, "waiter released");
    const cached = await eventually(async () => {
      const again = await stack.client.chat.completions
        .create({ model: "gpt-4o-mini", messages: messages as OpenAI.ChatCompletionMessageParam[] })
        .withResponse();
      return again.response.headers.get("x-batch-cache") === "hit" ? again.data : undefined;
    });
    expect(cached.choices[0]?.message.content).toBe(`echo: ${prompt}`);
  });
});
