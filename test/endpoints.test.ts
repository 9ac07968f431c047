import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

describe("every batchable endpoint, through the official SDK", () => {
  it("embeddings: float and base64 (the Node SDK's default) both decode to the same vectors", async () => {
    const [asFloat, asDefault] = await Promise.all([
      stack.client.embeddings.create({
        model: "text-embedding-3-small",
        input: ["alpha", "beta"],
        encoding_format: "float",
      }),
      stack.client.embeddings.create({ model: "text-embedding-3-small", input: ["alpha", "beta"] }),
    ]);
    expect(asFloat.data).toHaveLength(2);
    expect(asFloat.data[0]?.embedding).toHaveLength(8);
    const norm = Math.hypot(...(asFloat.data[0]?.embedding ?? []));
    expect(norm).toBeCloseTo(1, 5);
    asDefault.data.forEach((d, i) => {
      expect(d.embedding.length).toBe(8);
      d.embedding.forEach((v, j) => {
        expect(v).toBeCloseTo(asFloat.data[i]!.embedding[j]!, 5);
      });
    });
  });

  it("completions", async () => {
    const completion = await stack.client.completions.create({
      model: "gpt-3.5-turbo-instruct",
      prompt: "say hi",
    });
    expect(completion.choices[0]?.text).toBe("echo: say hi");
  });

  it("responses", async () => {
    const response = await stack.client.responses.create({ model: "gpt-4o-mini", input: "respond please" });
    expect(response.output_text).toBe("echo: respond please");
  });

  it("groups each endpoint into batches of its own", async () => {
    const stats = await stack.emulatorStats();
    const endpoints = new Set(stats.batches.map((b) => `${b.endpoint}|${b.model}`));
    expect(endpoints).toEqual(
      new Set([
        "/v1/embeddings|text-embedding-3-small",
        "/v1/completions|gpt-3.5-turbo-instruct",
        "/v1/responses|gpt-4o-mini",
      ]),
    );
  });
});
