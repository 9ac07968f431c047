import { resolve } from "node:path";
import { eventually, ROOT, type Stack, spawnApp, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

// A collator that lost its batch record (another took it over) can neither roll it back nor keep it
// alive, and whether a record is stale is judged on one clock, not on each host's.

let stack: Stack;
beforeAll(async () => {
  // No collator in this process: each test starts the ones it needs, some as processes of their own.
  stack = await startStack({ collators: 0, env: { PROVIDER_TIMEOUT_MS: "60000" } });
});
afterAll(() => stack?.close());
beforeEach(async () => {
  await stack.control("faults", undefined, "DELETE");
});

const SKEWED_CLOCK = resolve(ROOT, "packages/testing/src/skewed-clock.ts");

const ask = (content: string, model: string) =>
  stack.client.chat.completions.create({ model, messages: [{ role: "user", content }] });

const recordOf = (model: string) =>
  eventually(
    async () => (await stack.store.mongo.collections.batches.findOne({ model })) ?? undefined,
    30_000,
    `the batch record of ${model}`,
  );

/** How many more times the queued fault strikes (0: taken, or none queued). */
async function faultLeft(): Promise<number> {
  const { pending } = (await (await stack.control("faults", undefined, "GET")).json()) as {
    pending: { times: number }[];
  };
  return pending.reduce((n, f) => n + f.times, 0);
}

async function stopCollators(): Promise<void> {
  for (const c of stack.collators.splice(0)) await c.close();
}

describe("staleness is judged on one clock", () => {
  it("a collator whose host clock runs ten minutes late is not taken for dead", async () => {
    const model = "gpt-late-clock";
    // Its upload is held at the provider a while: the record stays with it, reported alive.
    await stack.control("faults", { target: "files.create", delayMs: 6000 });
    const late = spawnApp("collator", {
      ...stack.env,
      NODE_OPTIONS: `--import ${SKEWED_CLOCK}`,
      CLOCK_SKEW_MS: String(-10 * 60_000),
    });
    try {
      const answer = ask("late clock", model);
      const { _id } = await recordOf(model);
      // A collator with a right clock looks for stale records every 500 ms (stale after 3 s).
      await stack.startCollator();
      expect((await answer).choices[0]?.message.content).toBe("echo: late clock");
      expect((await stack.store.batches.get(_id))?.generation).toBe(0);
      expect((await stack.emulatorStats()).batches.filter((b) => b.model === model)).toHaveLength(1);
    } finally {
      await late.stop();
      await stopCollators();
    }
  });
});

describe("a collator that lost its record", () => {
  it("stops reporting it: when the record's new holder dies, a third collator takes it over", async () => {
    const model = "gpt-lost-record";
    // Both uploads (the first holder's, then its successor's) are held at the provider.
    await stack.control("faults", { target: "files.create", delayMs: 600_000, times: 2 });
    const first = spawnApp("collator", stack.env);
    let second: ReturnType<typeof spawnApp> | undefined;
    try {
      const answer = ask("lost record", model);
      const { _id } = await recordOf(model);
      await eventually(async () => (await faultLeft()) === 1, 30_000, "the first upload");
      // The first holder pauses mid-upload; a second collator takes the record over and uploads too.
      process.kill(first.child.pid!, "SIGSTOP");
      second = spawnApp("collator", stack.env);
      await eventually(async () => (await faultLeft()) === 0, 30_000, "the second upload");
      expect((await stack.store.batches.get(_id))?.generation).toBe(1);
      // The second holder dies; the first comes back. It must not report the record as its own.
      second.child.kill("SIGKILL");
      await second.exited;
      process.kill(first.child.pid!, "SIGCONT");
      await stack.startCollator();
      expect((await answer).choices[0]?.message.content).toBe("echo: lost record");
      expect((await stack.store.batches.get(_id))?.generation).toBe(2);
    } finally {
      process.kill(first.child.pid!, "SIGCONT");
      await stack.control("faults", undefined, "DELETE");
      await first.stop();
      await second?.stop();
      await stopCollators();
    }
  });
});
