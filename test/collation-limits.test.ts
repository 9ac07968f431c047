import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  // A long window, so only the size limits can flush these groups early.
  stack = await startStack({ env: { COLLATE_MAX_LINES: "3", COLLATE_BATCHES_FOR_DURATION_IN_MS: "1500" } });
});
afterAll(() => stack?.close());

describe("collation limits", () => {
  it("splits a group at the line limit, and flushes the rest when the window closes", async () => {
    const prompts = Array.from({ length: 7 }, (_, i) => `limit ${i}`);
    const answers = await Promise.all(
      prompts.map((content) =>
        stack.client.chat.completions.create({ model: "gpt-limits", messages: [{ role: "user", content }] }),
      ),
    );
    expect(answers.map((a) => a.choices[0]?.message.content)).toEqual(prompts.map((p) => `echo: ${p}`));
    const sizes = (await stack.emulatorStats()).batches
      .filter((b) => b.model === "gpt-limits")
      .map((b) => b.lines);
    expect(sizes.sort()).toEqual([1, 3, 3]);
  });

  it("counts embedding inputs, not lines, against the embeddings limit", async () => {
    // Three lines of 20,000 inputs each: two fit under 50,000 inputs, the third needs a batch of its own.
    const input = Array.from({ length: 20_000 }, (_, i) => `w${i}`);
    const results = await Promise.all(
      ["a", "b", "c"].map((tag) =>
        stack.client.embeddings.create({
          model: "text-embedding-limits",
          input: [tag, ...input.slice(1)],
          encoding_format: "float",
        }),
      ),
    );
    for (const result of results) expect(result.data).toHaveLength(20_000);
    const sizes = (await stack.emulatorStats()).batches
      .filter((b) => b.model === "text-embedding-limits")
      .map((b) => b.lines);
    expect(sizes.sort()).toEqual([1, 2]);
  });
});
