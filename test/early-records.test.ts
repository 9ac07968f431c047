import { eventually, queueAsyncCalls, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A gathering group's request records go into the store while it gathers, in chunks, so its flush
// writes only the last ones. Nothing is committed by them: the batch and its fences come at the flush.

const LINES = 1200;
const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });

let stack: Stack;
beforeAll(async () => {
  // Flushed by its line count only: the window is far longer than the test.
  stack = await startStack({
    env: { COLLATE_BATCHES_FOR_DURATION_IN_MS: "600000", COLLATE_MAX_LINES: String(LINES) },
  });
});
afterAll(async () => {
  await stack?.close();
});

const postAll = (from: number, to: number) =>
  queueAsyncCalls(stack.gateways[0]!.url, from, to, (n) => chat(`early ${n}`));

describe("early request records", () => {
  it("writes a gathering group's request records before its flush, and the flush answers every line once", async () => {
    const { requests, batches } = stack.store.mongo.collections;
    const first = await postAll(0, LINES - 100);
    // 1,100 gathered: two chunks of 500 recorded, no batch yet.
    await eventually(async () => (await requests.countDocuments({})) >= 1000, 30_000, "early records");
    expect(await batches.countDocuments({})).toBe(0);

    const rest = await postAll(LINES - 100, LINES);
    const ids = [...first, ...rest];
    await eventually(
      async () => {
        const res = await fetch(`${stack.gateways[0]!.url}/v1/requests/${ids.at(-1)}`);
        return res.status === 200;
      },
      60_000,
      "the batch answered",
    );
    for (const [i, id] of ids.entries()) {
      const res = await fetch(`${stack.gateways[0]!.url}/v1/requests/${id}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]?.message.content).toBe(`echo: early ${i}`);
    }
    expect(await requests.countDocuments({})).toBe(LINES);
    const stats = await stack.emulatorStats();
    expect(stats.batches.map((b) => b.lines)).toEqual([LINES]);
  }, 120_000);
});
