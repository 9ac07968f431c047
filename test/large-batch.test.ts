import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A batch of hundreds of lines, finished by the provider while the collator is still recording it as
// submitted, and found at once by the poller's sweep.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ batchDurationMs: 100, env: { POLL_SWEEP_INTERVAL_MS: "100" } });
});
afterAll(() => stack?.close());

describe("a batch of hundreds of lines", () => {
  it("ends every request in a terminal state, even when its results are stored while it is being submitted", async () => {
    const model = "gpt-large-batch";
    const n = 200;
    const accepted = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-batch-mode": "async" },
          body: JSON.stringify({ model, messages: [{ role: "user", content: `line ${i}` }] }),
        });
        return { status: res.status, id: ((await res.json()) as { id: string }).id };
      }),
    );
    expect(accepted.every((a) => a.status === 202)).toBe(true);
    const { batches, requests } = stack.store.mongo.collections;
    await eventually(
      async () => {
        const records = await batches.find({ model }).toArray();
        const counts = await Promise.all(records.map((r) => stack.store.batches.lineCount(r._id)));
        const lines = counts.reduce((sum, n) => sum + n, 0);
        return lines === n && records.every((r) => r.state === "done");
      },
      40_000,
      "every batch record settled",
    );
    const states: Record<string, number> = {};
    for (const doc of await requests.find({ model }).toArray()) {
      const state = (await stack.store.requests.get(doc._id))?.state ?? "missing";
      states[state] = (states[state] ?? 0) + 1;
    }
    expect(states).toEqual({ succeeded: n });
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions/${accepted[n - 1]!.id}`);
    expect(res.status).toBe(200);
  });
});
