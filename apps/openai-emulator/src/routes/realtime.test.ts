import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddingVector } from "../embeddings.ts";
import { type Harness, harness } from "../test-support.ts";
import { tokens } from "../text.ts";

describe("realtime endpoints", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.emu.close();
  });

  it("answers a chat completion with echo of the last user message", async () => {
    const res = await h.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        {
          role: "user",
          content: [
            { type: "text", text: "hello " },
            { type: "text", text: "world" },
          ],
        },
      ],
    });
    expect(res.object).toBe("chat.completion");
    expect(res.model).toBe("gpt-4o-mini");
    expect(res.choices[0]?.message.content).toBe("echo: hello world");
    expect(res.choices[0]?.finish_reason).toBe("stop");
    const input = tokens("be brieffirstokhello world");
    const output = tokens("echo: hello world");
    expect(res.usage).toMatchObject({
      prompt_tokens: input,
      completion_tokens: output,
      total_tokens: input + output,
    });
  });

  it("streams chat.completion.chunk events, with usage when asked", async () => {
    const stream = await h.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "stream me please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: unknown = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe("chat.completion.chunk");
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe("echo: stream me please");
    expect(usage).toMatchObject({ prompt_tokens: tokens("stream me please") });

    const raw = await fetch(`${h.emu.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    expect(raw.headers.get("content-type")).toContain("text/event-stream");
    const body = await raw.text();
    expect(body.trim().endsWith("data: [DONE]")).toBe(true);
    expect(body).not.toContain('"usage"');
  });

  it("answers completions and responses", async () => {
    const c = await h.client.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: "say hi" });
    expect(c.choices[0]?.text).toBe("echo: say hi");
    expect(c.usage?.prompt_tokens).toBe(tokens("say hi"));
    const r = await h.client.responses.create({ model: "gpt-4.1", input: "tell me" });
    expect(r.object).toBe("response");
    expect(r.output_text).toBe("echo: tell me");
    expect(r.usage?.input_tokens).toBe(tokens("tell me"));
    const r2 = await h.client.responses.create({
      model: "gpt-4.1",
      input: [{ role: "user", content: [{ type: "input_text", text: "from parts" }] }],
    });
    expect(r2.output_text).toBe("echo: from parts");
  });

  it("answers embeddings as floats and as base64 (decoded by the SDK), honouring dimensions", async () => {
    const floats = await h.client.embeddings.create({
      model: "text-embedding-3-small",
      input: ["alpha", "beta"],
      encoding_format: "float",
    });
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0]?.embedding).toEqual(embeddingVector("alpha"));
    expect(floats.data[0]?.embedding).toHaveLength(8);
    const norm = Math.sqrt((floats.data[1]?.embedding ?? []).reduce((s, v) => s + v * v, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect(floats.usage).toEqual({ prompt_tokens: tokens("alphabeta"), total_tokens: tokens("alphabeta") });
    const decoded = await h.client.embeddings.create({ model: "text-embedding-3-small", input: "alpha" });
    expect(decoded.data[0]?.embedding).toEqual(embeddingVector("alpha"));
    const b64 = await h.client.embeddings.create({
      model: "text-embedding-3-small",
      input: "alpha",
      encoding_format: "base64",
      dimensions: 16,
    });
    expect(typeof b64.data[0]?.embedding).toBe("string");
    expect(Buffer.from(b64.data[0]?.embedding as unknown as string, "base64").length).toBe(64);
  });

  it("fails a request carrying a fail marker with that status", async () => {
    const ask = (text: string) =>
      h.client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }] });
    await expect(ask("x [[fail:400]]")).rejects.toMatchObject({
      status: 400,
      error: { type: "invalid_request_error" },
    });
    await expect(ask("x [[fail:429]]")).rejects.toMatchObject({
      status: 429,
      error: { code: "rate_limit_exceeded" },
    });
    await expect(ask("x [[fail:500]]")).rejects.toMatchObject({
      status: 500,
      error: { type: "server_error" },
    });
    await expect(h.client.embeddings.create({ model: "e", input: "[[fail:500]]" })).rejects.toMatchObject({
      status: 500,
    });
  });

  it("rejects bad bodies with OpenAI's errors", async () => {
    await expect(h.client.chat.completions.create({ messages: [] } as never)).rejects.toMatchObject({
      status: 400,
      error: { message: "you must provide a model parameter" },
    });
    await expect(h.client.chat.completions.create({ model: "m" } as never)).rejects.toMatchObject({
      status: 400,
      error: { param: "messages", code: "missing_required_parameter" },
    });
    const res = await fetch(`${h.emu.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: "{nope",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      "We could not parse the JSON body",
    );
  });

  it("gives the same body through a batch line as realtime, except ids and timestamps", async () => {
    const body = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "same answer" }] };
    const live = await h.client.chat.completions.create(body);
    const file = await h.upload([{ custom_id: "s", method: "POST", url: "/v1/chat/completions", body }]);
    const batch = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const done = await h.waitTerminal(batch.id);
    const [line] = await h.lines(done.output_file_id);
    const strip = (b: Record<string, unknown>) => ({ ...b, id: "", created: 0 });
    expect(strip(line?.response.body)).toEqual(strip(live as unknown as Record<string, unknown>));
  });
});
