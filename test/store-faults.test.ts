import { setTimeout as sleep } from "node:timers/promises";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Faults of the database itself (a failover, a refused write). A unique index on a field of ours makes
// the real server refuse exactly the write we aim at, for as long as the index exists.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function refuse(collection: "batches", field: string, value: string): Promise<() => Promise<void>> {
  const c = stack.store.mongo.db.collection(collection);
  const blocker = `blocker-${value}`;
  await c.insertOne({ _id: blocker, [field]: value } as never);
  await c.createIndex({ [field]: 1 }, { unique: true, name: `refuse_${field}` });
  return async () => {
    await c.dropIndex(`refuse_${field}`);
    await c.deleteOne({ _id: blocker } as never);
  };
}

describe("a collator whose flush fails before its jobs are completed", () => {
  it("hands the jobs back, so their callers are answered once the store takes writes again", async () => {
    const model = "gpt-refused-record";
    const allow = await refuse("batches", "model", model);
    const client = stack.clientFor(stack.gateways[0]!, { timeout: 20_000 });
    const answer = client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "refused" }],
    });
    // The collator wrote the request's record, then the store refused its batch record.
    await eventually(
      async () => (await stack.store.mongo.collections.requests.findOne({ model })) ?? undefined,
      10_000,
      "the request's record",
    );
    await sleep(1000);
    await allow();
    expect((await answer).choices[0]?.message.content).toBe("echo: refused");
  });
});
