import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const ask = (content: string, model = "gpt-4o-mini", extra: Record<string, unknown> = {}) =>
  stack.client.chat.completions.create({ model, messages: [{ role: "user", content }], ...extra });

describe("sync chat completions through a batch", () => {
  it("answers a held caller with the batch line's completion", async () => {
    const completion = await ask("hello sync");
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message.content).toBe("echo: hello sync");
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
    const stats = await stack.emulatorStats();
    expect(stats.realtimeRequests).toBe(0);
    expect(stats.batchesCreated).toBeGreaterThanOrEqual(1);
  });

  it("gives each concurrent caller its own answer, in one batch per model", async () => {
    const before = await stack.emulatorStats();
    const prompts = Array.from({ length: 12 }, (_, i) => `caller ${i}`);
    const answers = await Promise.all([
      ...prompts.map((p) => ask(p, "gpt-4o-mini")),
      ask("other model", "gpt-4.1-nano"),
    ]);
    prompts.forEach((p, i) => {
      expect(answers[i]?.choices[0]?.message.content).toBe(`echo: ${p}`);
    });
    expect(answers[12]?.model).toBe("gpt-4.1-nano");
    const after = await stack.emulatorStats();
    const created = after.batches.slice(before.batches.length);
    expect(created.map((b) => b.model).sort()).toEqual(["gpt-4.1-nano", "gpt-4o-mini"]);
    expect(created.find((b) => b.model === "gpt-4o-mini")?.lines).toBe(12);
  });

  it("keeps fields it does not know and values like temperature 0 in the batch line", async () => {
    const completion = await ask("keep my fields", "gpt-4o-mini", {
      temperature: 0,
      seed: 7,
      metadata: { x: "y" },
    });
    expect(completion.choices[0]?.message.content).toBe("echo: keep my fields");
    const record = await stack.store.mongo.collections.requests.findOne({
      body: { $regex: "keep my fields" },
    });
    expect(JSON.parse(record!.body)).toMatchObject({ temperature: 0, seed: 7, metadata: { x: "y" } });
  });
});
