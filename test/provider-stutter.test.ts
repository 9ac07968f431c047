import { eventually, type Stack, spawnApp, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

// The provider stutters: replies lost after the work was done, calls that never end, answers that
// will never change. Each batch record must still reach the provider exactly once, and every caller
// gets one answer.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { PROVIDER_TIMEOUT_MS: "1500" } });
});
afterAll(() => stack?.close());
beforeEach(async () => {
  await stack.control("faults", undefined, "DELETE");
});

const ask = (content: string, model: string) =>
  stack.client.chat.completions.create({ model, messages: [{ role: "user", content }] });

/** The emulator's batches of one model, and how many carry each of our record ids. */
async function batchesOf(model: string) {
  const batches = (await stack.emulatorStats()).batches.filter((b) => b.model === model);
  const perRecord = new Map<string, number>();
  for (const b of batches) {
    const record = b.metadata?.batch_gpt_record ?? "(none)";
    perRecord.set(record, (perRecord.get(record) ?? 0) + 1);
  }
  return { batches, perRecord: [...perRecord.values()] };
}

describe("batches.create is sent once per record", () => {
  it("a create whose reply was lost (a 5xx after the batch was made) is found, not sent again", async () => {
    await stack.control("faults", { target: "batches.create", status: 500, after: true });
    const answer = await ask("lost create reply", "gpt-lost-reply");
    expect(answer.choices[0]?.message.content).toBe("echo: lost create reply");
    const { batches, perRecord } = await batchesOf("gpt-lost-reply");
    expect(batches).toHaveLength(1);
    expect(perRecord).toEqual([1]);
  });

  it("a create whose reply never came (a timeout after the batch was made) is found, not sent again", async () => {
    await stack.control("faults", { target: "batches.create", delayMs: 600_000, after: true });
    const answer = await ask("slow create reply", "gpt-slow-reply");
    expect(answer.choices[0]?.message.content).toBe("echo: slow create reply");
    const { batches, perRecord } = await batchesOf("gpt-slow-reply");
    expect(batches).toHaveLength(1);
    expect(perRecord).toEqual([1]);
  });
});

describe("a collator paused (not dead) past the stale time", () => {
  let paused: Stack;
  beforeAll(async () => {
    // No collator in this process: the paused one is a process of its own, the survivor starts later.
    paused = await startStack({ collators: 0, env: { PROVIDER_TIMEOUT_MS: "30000" } });
  });
  afterAll(() => paused?.close());

  it("two provider batches for one record: one is adopted, the other cancelled, the caller answered once", async () => {
    const model = "gpt-paused-collator";
    // The first create is held at the provider before it makes the batch: long enough for the paused
    // collator's record to go stale, be taken over, looked up (nothing yet) and created again.
    await paused.control("faults", { target: "batches.create", delayMs: 8000 });
    const doomed = spawnApp("collator", paused.env);
    try {
      const answer = paused.client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "paused collator" }],
      });
      // Its create reached the provider (the fault was taken): now it pauses, heartbeats and all.
      await eventually(
        async () =>
          ((await (await paused.control("faults", undefined, "GET")).json()) as { pending: unknown[] })
            .pending.length === 0,
        30_000,
        "the paused collator's create",
      );
      process.kill(doomed.child.pid!, "SIGSTOP");
      await paused.startCollator();
      const result = await answer;
      expect(result.choices[0]?.message.content).toBe("echo: paused collator");
      // The held create goes through at the provider: a second batch carries the same record.
      const twice = await eventually(async () => {
        const batches = (await paused.emulatorStats()).batches.filter((b) => b.model === model);
        return batches.length === 2 && batches;
      }, 30_000);
      const recordIds = new Set(twice.map((b) => b.metadata.batch_gpt_record));
      expect(recordIds.size).toBe(1);
      process.kill(doomed.child.pid!, "SIGCONT");
      const record = await paused.store.batches.get([...recordIds][0]!);
      const settled = await eventually(async () => {
        const batches = (await paused.emulatorStats()).batches.filter((b) => b.model === model);
        const statuses = batches.map((b) => b.status).sort();
        return statuses.join() === "cancelled,completed" && batches;
      }, 30_000);
      // The one followed is the record's; the other was cancelled before it could run.
      expect(settled.find((b) => b.status === "completed")?.id).toBe(record?.providerBatchId);
      const outcome = await paused.store.mongo.collections.answers.countDocuments({});
      expect(outcome).toBe(1);
    } finally {
      process.kill(doomed.child.pid!, "SIGCONT");
      await doomed.stop();
    }
  });
});
