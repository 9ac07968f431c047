import { randomBytes } from "node:crypto";
import { apiError, eventually, type Stack, startStack } from "@batch-gpt/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The official Node `openai` package against the whole stack, unchanged: every call users make,
 * and every error class the SDK maps a status to.
 */

let stack: Stack;
let client: OpenAI;
/** The emulator called directly: what OpenAI's realtime API would have answered. */
let realtime: OpenAI;

beforeAll(async () => {
  stack = await startStack({ env: { MAX_BODY_BYTES: "65536" } });
  client = stack.client;
  realtime = new OpenAI({ baseURL: stack.emulator.url, apiKey: "sk-realtime", maxRetries: 0 });
});
afterAll(() => stack?.close());

const unique = (label: string) => `${label} ${randomBytes(4).toString("hex")}`;
const user = (content: string) => [{ role: "user" as const, content }];

describe("chat completions", () => {
  it("answers a plain call with the line's completion and our headers", async () => {
    const prompt = unique("plain");
    const { data, response } = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages: user(prompt) })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]?.message).toMatchObject({ role: "assistant", content: `echo: ${prompt}` });
    expect(data.choices[0]?.finish_reason).toBe("stop");
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    expect(response.headers.get("x-request-id")).toBeTruthy();
    expect(response.headers.get("x-batch-cache")).toBe("miss");
  });

  it("streams the same content, role, finish reason and usage as the plain answer", async () => {
    const prompt = unique("streamed");
    const { data: stream, response } = await client.chat.completions
      .create({
        model: "gpt-4o-mini",
        messages: user(prompt),
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(response.headers.get("content-encoding")).toBeNull();
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    expect(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean)).toEqual(["stop"]);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);

    // The same request unstreamed is now a cache hit: same content and usage.
    const { data: plain, response: plainResponse } = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages: user(prompt) })
      .withResponse();
    expect(plainResponse.headers.get("x-batch-cache")).toBe("hit");
    expect(text).toBe(plain.choices[0]?.message.content);
    expect(text).toBe(`echo: ${prompt}`);
    expect(last.usage).toEqual(plain.usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("streams a cache hit too, and the stream helper rebuilds the full completion", async () => {
    const prompt = unique("helper");
    const plain = await client.chat.completions.create({ model: "gpt-4o-mini", messages: user(prompt) });
    const { data: stream, response } = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages: user(prompt), stream: true })
      .withResponse();
    expect(response.headers.get("x-batch-cache")).toBe("hit");
    let text = "";
    for await (const chunk of stream) {
      expect(chunk.usage).toBeUndefined();
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe(plain.choices[0]?.message.content);

    const final = await client.chat.completions
      .stream({ model: "gpt-4o-mini", messages: user(prompt) })
      .finalChatCompletion();
    expect(final.id).toBe(plain.id);
    expect(final.choices[0]?.message.content).toBe(plain.choices[0]?.message.content);
    expect(final.choices[0]?.finish_reason).toBe("stop");
  });

  it("streams every choice of n > 1", async () => {
    const prompt = unique("two choices");
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: user(prompt),
      n: 2,
      stream: true,
    });
    const byChoice = ["", ""];
    for await (const chunk of stream)
      for (const choice of chunk.choices) byChoice[choice.index] += choice.delta.content ?? "";
    expect(byChoice).toEqual([`echo: ${prompt}`, `echo: ${prompt}`]);
  });

  it("answers the same body as OpenAI's realtime API would, except id and time", async () => {
    const prompt = unique("same as realtime");
    const request = { model: "gpt-4.1-nano", messages: user(prompt), temperature: 0 };
    const [batched, direct] = await Promise.all([
      client.chat.completions.create(request),
      realtime.chat.completions.create(request),
    ]);
    expect({ ...batched, id: "", created: 0 }).toEqual({ ...direct, id: "", created: 0 });
  });
});

describe("embeddings, completions and responses", () => {
  it("answers embeddings as floats and as base64, both equal to the realtime vectors", async () => {
    const input = [unique("embed a"), unique("embed b")];
    const [asFloat, asDefault, direct] = await Promise.all([
      client.embeddings.create({ model: "text-embedding-3-small", input, encoding_format: "float" }),
      // The Node SDK asks for base64 by default and decodes it.
      client.embeddings.create({ model: "text-embedding-3-small", input }),
      realtime.embeddings.create({ model: "text-embedding-3-small", input, encoding_format: "float" }),
    ]);
    expect(asFloat.data.map((d) => d.index)).toEqual([0, 1]);
    expect(asFloat.data[0]?.embedding.length).toBe(8);
    expect(asFloat.data.map((d) => d.embedding)).toEqual(direct.data.map((d) => d.embedding));
    asDefault.data.forEach((d, i) => {
      const expected = asFloat.data[i]!.embedding;
      d.embedding.forEach((v, j) => {
        expect(v).toBeCloseTo(expected[j]!, 6);
      });
    });
    expect(asFloat.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it("refuses stream: true on embeddings with OpenAI's 400", async () => {
    const err = await apiError(
      client.embeddings.create({ model: "text-embedding-3-small", input: "x", stream: true } as never),
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe("stream");
  });

  it("answers completions, plain and streamed", async () => {
    const prompt = unique("complete me");
    const plain = await client.completions.create({ model: "gpt-3.5-turbo-instruct", prompt });
    expect(plain.object).toBe("text_completion");
    expect(plain.choices[0]?.text).toBe(`echo: ${prompt}`);
    const stream = await client.completions.create({
      model: "gpt-3.5-turbo-instruct",
      prompt,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      finishes.push(...chunk.choices.map((c) => c.finish_reason));
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(plain.choices[0]?.text);
    expect(finishes.filter(Boolean)).toEqual([plain.choices[0]?.finish_reason]);
    expect(usage).toEqual(plain.usage);
  });

  it("answers responses, plain and streamed as Responses events", async () => {
    const input = unique("respond");
    const plain = await client.responses.create({ model: "gpt-4o-mini", input });
    expect(plain.object).toBe("response");
    expect(plain.output_text).toBe(`echo: ${input}`);

    const stream = await client.responses.create({ model: "gpt-4o-mini", input, stream: true });
    const types: string[] = [];
    let deltas = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") deltas += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(types[0]).toBe("response.created");
    expect(types).toContain("response.output_text.done");
    expect(types.at(-1)).toBe("response.completed");
    expect(deltas).toBe(plain.output_text);
    expect(completed?.id).toBe(plain.id);

    const final = await client.responses.stream({ model: "gpt-4o-mini", input }).finalResponse();
    expect(final.output_text).toBe(plain.output_text);
    expect(final.usage).toEqual(plain.usage);
  });
});

describe("async mode", () => {
  it("creates with x-batch-mode: async and retrieves the answer by id", async () => {
    const prompt = unique("async");
    const asyncClient = stack.clientFor(stack.gateways[0]!, { defaultHeaders: { "x-batch-mode": "async" } });
    const { data: placeholder, response } = await asyncClient.chat.completions
      .create({ model: "gpt-4o-mini", messages: user(prompt) })
      .withResponse();
    expect(response.status).toBe(202);
    expect(placeholder.id).toMatch(/^chatcmpl-/);
    expect((placeholder as unknown as { status: string }).status).toBe("queued");
    const done = await eventually(async () => {
      const got = await client.chat.completions.retrieve(placeholder.id);
      return got.choices?.length ? got : undefined;
    });
    expect(done.choices[0]?.message.content).toBe(`echo: ${prompt}`);

    // Responses have a retrieve method; embeddings and completions are fetched with the generic get.
    const pendingResponse = await asyncClient.responses.create({ model: "gpt-4o-mini", input: prompt });
    const embedding = await asyncClient.embeddings.create({
      model: "text-embedding-3-small",
      input: prompt,
      encoding_format: "float",
    });
    const pendingId = (embedding as unknown as { id: string }).id;
    expect(pendingId).toMatch(/^emb-/);
    const answered = await eventually(async () => {
      const got = await client.responses.retrieve(pendingResponse.id);
      return got.status === "completed" ? got : undefined;
    });
    expect(answered.output_text).toBe(`echo: ${prompt}`);
    const vectors = await eventually(async () => {
      const got = await client.get<OpenAI.CreateEmbeddingResponse>(`/embeddings/${pendingId}`);
      return got.data?.length ? got : undefined;
    });
    expect(vectors.data[0]?.embedding).toHaveLength(8);
  });

  it("refuses stream: true in async mode with a 400", async () => {
    const err = await apiError(
      client.chat.completions.create(
        { model: "gpt-4o-mini", messages: user("no"), stream: true },
        { headers: { "x-batch-mode": "async" } },
      ),
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe("stream");
  });
});

describe("errors map to the SDK's classes", () => {
  it("400 BadRequestError for an invalid request, with x-request-id", async () => {
    const err = await apiError(client.chat.completions.create({ model: "gpt-4o-mini" } as never));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.code).toBe("missing_required_parameter");
    expect(err.param).toBe("messages");
    expect(err.requestID).toBeTruthy();
  });

  it("400 BadRequestError for a line that failed with 400 inside its batch", async () => {
    const err = await apiError(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: user(unique("bad [[fail:400]]")) }),
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.headers?.get("x-should-retry")).toBe("false");
    expect(err.requestID).toBeTruthy();
  });

  it("404 NotFoundError for an unknown id, an unknown route and a cache miss", async () => {
    const unknown = await apiError(client.chat.completions.retrieve("chatcmpl-nope"));
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.requestID).toBeTruthy();
    const route = await apiError(client.models.list());
    expect(route).toBeInstanceOf(OpenAI.NotFoundError);
    expect(route.requestID).toBeTruthy();
    const miss = await apiError(
      client.chat.completions.create(
        { model: "gpt-4o-mini", messages: user(unique("never asked")) },
        { headers: { "x-batch-mode": "cache" } },
      ),
    );
    expect(miss).toBeInstanceOf(OpenAI.NotFoundError);
    expect(miss.code).toBe("cache_miss");
  });

  it("413 for a body over MAX_BODY_BYTES", async () => {
    const err = await apiError(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: user("x".repeat(70_000)) }),
    );
    expect(err.status).toBe(413);
    expect(err.code).toBe("request_too_large");
    expect(err.requestID).toBeTruthy();
  });

  it("429 RateLimitError for a line rate-limited inside its batch, told not to retry", async () => {
    const err = await apiError(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: user(unique("[[fail:429]]")) }),
    );
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe("rate_limit_exceeded");
    expect(err.headers?.get("x-should-retry")).toBe("false");
    expect(err.requestID).toBeTruthy();
  });

  it("500 InternalServerError for a line that failed with 500, streamed or not", async () => {
    const content = unique("[[fail:500]]");
    const [plain, streamed] = await Promise.all([
      apiError(client.chat.completions.create({ model: "gpt-4o-mini", messages: user(content) })),
      apiError(
        (async () => {
          const stream = await client.chat.completions.create({
            model: "gpt-4o-mini",
            messages: user(content),
            stream: true,
          });
          for await (const _ of stream);
        })(),
      ),
    ]);
    expect(plain).toBeInstanceOf(OpenAI.InternalServerError);
    expect(plain.type).toBe("server_error");
    // Answered before the first keep-alive was due: a plain HTTP error with the line's own status.
    expect(streamed).toBeInstanceOf(OpenAI.InternalServerError);
    expect(streamed.error).toEqual(plain.error);
  });
});

describe("batch management", () => {
  let slow: Stack;
  let batches: OpenAI;
  beforeAll(async () => {
    // Batches that take long enough to be cancelled while they run.
    slow = await startStack({ batchDurationMs: 3000 });
    batches = slow.client;
  });
  afterAll(() => slow?.close());

  const batchOf = async (prompt: string) =>
    eventually(async () => {
      const doc = await slow.store.mongo.collections.requests.findOne({ body: { $regex: prompt } });
      const request = doc ? await slow.store.requests.get(doc._id) : null;
      const record = request?.batchId ? await slow.store.batches.get(request.batchId) : null;
      return record?.providerBatchId ? record : undefined;
    });

  it("lists every batch once, newest first, through auto-pagination; retrieves each", async () => {
    const models = ["gpt-4o-mini", "gpt-4.1-nano", "gpt-4.1-mini", "gpt-4o", "o4-mini"];
    const answers = await Promise.all(
      models.map((model) => batches.chat.completions.create({ model, messages: user(unique("list")) })),
    );
    expect(answers.map((a) => a.model)).toEqual(models);
    const created = (await slow.emulatorStats()).batches.map((b) => b.id);
    expect(created.length).toBeGreaterThanOrEqual(models.length);

    const seen: OpenAI.Batch[] = [];
    for await (const batch of batches.batches.list({ limit: 2 })) seen.push(batch);
    expect(seen.map((b) => b.id).sort()).toEqual([...created].sort());
    const times = seen.map((b) => b.created_at);
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const page = await batches.batches.list({ limit: 2 });
    expect(page.data).toHaveLength(2);
    expect(page.has_more).toBe(true);

    const one = await batches.batches.retrieve(seen[0]!.id);
    expect(one).toMatchObject({ id: seen[0]!.id, object: "batch", status: "completed" });
    expect(one.request_counts?.total).toBe(1);
    const record = await slow.store.batches.findByProviderId(one.id);
    expect(one.metadata?.batch_gpt_record).toBe(record?._id);
  });

  it("filters the list by status and rejects a limit out of range", async () => {
    const completed = await batches.batches.list({ limit: 100 }, { query: { status: "completed" } });
    expect(completed.data.length).toBeGreaterThan(0);
    expect(completed.data.every((b) => b.status === "completed")).toBe(true);
    const notCompleted = await batches.batches.list({ limit: 100 }, { query: { status: "not_completed" } });
    expect(notCompleted.data.every((b) => b.status !== "completed")).toBe(true);
    const tooMany = await apiError(batches.batches.list({ limit: 101 }));
    expect(tooMany).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tooMany.param).toBe("limit");
    const none = await apiError(batches.batches.list({ limit: 0 }));
    expect(none).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("404 NotFoundError for an unknown batch", async () => {
    const err = await apiError(batches.batches.retrieve("batch_unknown"));
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.message).toContain("batch_unknown");
    const cancel = await apiError(batches.batches.cancel("batch_unknown"));
    expect(cancel).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("cancels a running batch at the provider; its caller is still answered", async () => {
    const prompt = unique("cancel me");
    const caller = batches.chat.completions.create({ model: "gpt-4o-mini", messages: user(prompt) });
    const record = await batchOf(prompt);
    const cancelled = await batches.batches.cancel(record.providerBatchId!);
    expect(cancelled.id).toBe(record.providerBatchId);
    expect(["cancelling", "cancelled"]).toContain(cancelled.status);

    const answer = await caller;
    expect(answer.choices[0]?.message.content).toBe(`echo: ${prompt}`);
    const after = await batches.batches.retrieve(record.providerBatchId!);
    expect(after.status).toBe("cancelled");
    const doc = await slow.store.mongo.collections.requests.findOne({ body: { $regex: prompt } });
    const request = doc ? await slow.store.requests.get(doc._id) : null;
    expect(request?.batchId).not.toBe(record._id);
    expect(request?.attempt).toBeGreaterThan(0);

    const again = await apiError(batches.batches.cancel(record.providerBatchId!));
    expect(again).toBeInstanceOf(OpenAI.ConflictError);
    expect(again.message).toContain("Cannot cancel a batch with status 'cancelled'.");
    expect(again.headers?.get("x-should-retry")).toBe("false");
    expect(again.requestID).toBeTruthy();
  });

  it("409 ConflictError when the provider says the batch already finished", async () => {
    const prompt = unique("finished");
    await batches.chat.completions.create({ model: "gpt-4o-mini", messages: user(prompt) });
    const record = await batchOf(prompt);
    const own = await apiError(batches.batches.cancel(record.providerBatchId!));
    expect(own).toBeInstanceOf(OpenAI.ConflictError);
    expect(own.message).toContain("Cannot cancel a batch with status 'completed'.");
    // Our stored status lags behind the provider's: the provider's own 409 is relayed the same way.
    await slow.store.mongo.collections.batches.updateOne(
      { _id: record._id },
      { $set: { status: "in_progress" } },
    );
    const relayed = await apiError(batches.batches.cancel(record.providerBatchId!));
    expect(relayed).toBeInstanceOf(OpenAI.ConflictError);
    expect(relayed.message).toContain("Cannot cancel a batch with status 'completed'.");
    expect(relayed.headers?.get("x-should-retry")).toBe("false");
  });
});
