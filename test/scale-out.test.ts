import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ gateways: 2, collators: 2, pollers: 2 });
});
afterAll(() => stack?.close());

describe("two gateways, two collators, two pollers sharing the work", () => {
  it("answers every caller on whichever gateway holds it, each line submitted once", async () => {
    const [a, b] = stack.gateways.map((g) => stack.clientFor(g));
    const prompts = Array.from({ length: 40 }, (_, i) => `spread ${i}`);
    const answers = await Promise.all(
      prompts.map((content, i) =>
        (i % 2 ? a! : b!).chat.completions.create({
          model: "gpt-scale",
          messages: [{ role: "user", content }],
        }),
      ),
    );
    expect(answers.map((r) => r.choices[0]?.message.content)).toEqual(prompts.map((p) => `echo: ${p}`));
    const stats = await stack.emulatorStats();
    const lines = stats.batches.filter((x) => x.model === "gpt-scale").reduce((n, x) => n + x.lines, 0);
    expect(lines).toBe(prompts.length);
  });

  it("dedups identical requests that arrive on different gateways", async () => {
    const [a, b] = stack.gateways.map((g) => stack.clientFor(g));
    const ask = (client: typeof a) =>
      client!.chat.completions.create({
        model: "gpt-scale-dedup",
        messages: [{ role: "user", content: "one line" }],
      });
    const answers = await Promise.all([ask(a), ask(b), ask(a), ask(b)]);
    expect(new Set(answers.map((r) => r.id)).size).toBe(1);
    const stats = await stack.emulatorStats();
    expect(stats.batches.filter((x) => x.model === "gpt-scale-dedup").reduce((n, x) => n + x.lines, 0)).toBe(
      1,
    );
  });

  it("an async call made on one gateway can be fetched on the other", async () => {
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify({
        model: "gpt-scale",
        messages: [{ role: "user", content: "fetch me elsewhere" }],
      }),
    });
    const { id } = (await res.json()) as { id: string };
    const other = stack.clientFor(stack.gateways[1]!);
    // 202 while pending (a placeholder with no choices), 200 with the completion once answered.
    const completion = await eventually(
      async () => {
        const { data, response } = await other.chat.completions.retrieve(id).withResponse();
        return response.status === 200 ? data : undefined;
      },
      30_000,
      "the answer on the other gateway",
    );
    expect(completion.choices[0]?.message.content).toBe("echo: fetch me elsewhere");
  });
});
