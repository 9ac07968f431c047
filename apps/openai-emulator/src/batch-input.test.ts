import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatLine, type Harness, harness } from "./test-support.ts";

describe("batch validation failures", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.emu.close();
  });

  async function failWith(lines: unknown[], endpoint = "/v1/chat/completions") {
    const file = await h.upload(lines);
    const batch = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: endpoint as "/v1/chat/completions",
      completion_window: "24h",
    });
    const done = await h.waitTerminal(batch.id);
    expect(done.status).toBe("failed");
    expect(done.failed_at).toBeTypeOf("number");
    expect(done.request_counts).toEqual({ total: 0, completed: 0, failed: 0 });
    expect(done.errors?.object).toBe("list");
    return done.errors?.data ?? [];
  }

  it("reports an invalid JSON line", async () => {
    const errors = await failWith([chatLine("a", "x"), "{not json"]);
    expect(errors).toEqual([
      {
        code: "invalid_json_line",
        message: "This line is not parseable as valid JSON.",
        param: null,
        line: 2,
      },
    ]);
  });

  it("reports a duplicate custom_id", async () => {
    const errors = await failWith([chatLine("a", "x"), chatLine("b", "y"), chatLine("a", "z")]);
    expect(errors).toMatchObject([{ code: "duplicate_custom_id", param: "custom_id", line: 3 }]);
  });

  it("reports a second model", async () => {
    const errors = await failWith([chatLine("a", "x", "gpt-4o-mini"), chatLine("b", "y", "gpt-4o")]);
    expect(errors).toMatchObject([{ code: "mismatched_model", param: "body.model", line: 2 }]);
  });

  it("reports a line whose url differs from the batch endpoint", async () => {
    const errors = await failWith([{ ...chatLine("a", "x"), url: "/v1/embeddings" }]);
    expect(errors).toEqual([
      {
        code: "invalid_url",
        message: "The URL provided for this request does not match the batch endpoint.",
        param: "url",
        line: 1,
      },
    ]);
  });

  it("reports missing fields and a streaming line", async () => {
    const { method: _m, ...noMethod } = chatLine("a", "x");
    const errors = await failWith([
      noMethod,
      { ...chatLine("b", "y"), body: { model: "m", messages: [], stream: true } },
    ]);
    expect(errors).toMatchObject([
      { code: "missing_required_parameter", param: "method", line: 1 },
      { code: "streaming_unsupported", param: "body.stream", line: 2 },
    ]);
  });

  it("reports a line carrying the [[invalid-line]] marker, by its line", async () => {
    const errors = await failWith([
      chatLine("a", "x"),
      chatLine("b", "bad [[invalid-line]]"),
      chatLine("c", "z"),
    ]);
    expect(errors).toMatchObject([{ code: "invalid_request", param: "body", line: 2 }]);
  });

  it("reports an empty file", async () => {
    const errors = await failWith([]);
    expect(errors).toMatchObject([{ code: "empty_file", line: null }]);
  });

  it("reports more than 50,000 requests", async () => {
    const line = JSON.stringify(chatLine("X", "q"));
    const lines = Array.from({ length: 50_001 }, (_, i) => line.replace('"X"', `"${i}"`));
    const errors = await failWith(lines);
    expect(errors).toMatchObject([{ code: "too_many_requests", line: null }]);
  });

  it("reports more than 50,000 embedding inputs across the batch", async () => {
    const inputs = Array.from({ length: 25_001 }, () => "a");
    const line = (id: string) => ({
      custom_id: id,
      method: "POST",
      url: "/v1/embeddings",
      body: { model: "text-embedding-3-small", input: inputs },
    });
    const errors = await failWith([line("a"), line("b")], "/v1/embeddings");
    expect(errors).toMatchObject([{ code: "too_many_inputs", param: "body.input" }]);
  });
});
