import type { Step } from "@batch-gpt/contracts";
import { type Stack, spawnApp, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Each named step is a crash point: the process SIGKILLs itself there (BATCH_GPT_CRASH_AT), then a
// fresh process must finish the work with every caller answered and no line submitted twice.

let stack: Stack;
beforeAll(async () => {
  // No in-process collator or poller: the test starts them. Held callers re-check the store rarely,
  // so only a real wake-up (a publish) can answer them in time.
  stack = await startStack({ collators: 0, pollers: 0, env: { WAITER_RECHECK_MS: "600000" } });
});
afterAll(() => stack?.close());

const ask = (content: string, model: string) =>
  stack.client.chat.completions.create({ model, messages: [{ role: "user", content }] });

async function linesSubmitted(model: string): Promise<number> {
  const stats = await stack.emulatorStats();
  return stats.batches.filter((b) => b.model === model).reduce((n, b) => n + b.lines, 0);
}

describe("collator killed mid-flight", () => {
  const steps: Step[] = [
    "collate.claimed",
    "collate.recorded",
    "collate.uploaded",
    "collate.creating",
    "collate.created",
  ];
  // Two survivors start at once, so they also race each other for the dead collator's records and jobs.
  it.each(steps)(
    "recovers from a crash at %s: every caller answered, each line in one batch",
    async (step) => {
      const poller = stack.pollers.length ? undefined : await stack.startPoller();
      const model = `gpt-crash-${step.replace(".", "-")}`;
      const doomed = spawnApp("collator", { ...stack.env, BATCH_GPT_CRASH_AT: step });
      const prompts = ["a", "b", "c", "d"].map((p) => `${step} ${p}`);
      const answers = Promise.all(prompts.map((p) => ask(p, model)));
      expect(await doomed.exited).toBe(-1); // killed by its own SIGKILL at the step
      const survivors = await Promise.all([stack.startCollator(), stack.startCollator()]);
      const results = await answers;
      expect(results.map((r) => r.choices[0]?.message.content)).toEqual(prompts.map((p) => `echo: ${p}`));
      expect(await linesSubmitted(model)).toBe(prompts.length);
      for (const survivor of survivors) {
        await survivor.close();
        stack.collators.splice(stack.collators.indexOf(survivor), 1);
      }
      void poller;
    },
  );
});

describe("poller killed mid-flight", () => {
  it.each(["poll.checked", "poll.results-stored"] as Step[])(
    "a restarted poller finishes a batch after a crash at %s and announces its results",
    async (step) => {
      for (const p of stack.pollers.splice(0)) await p.close();
      const collator = stack.collators[0] ?? (await stack.startCollator());
      const model = `gpt-poll-crash-${step.replace(".", "-")}`;
      const doomed = spawnApp("poller", { ...stack.env, BATCH_GPT_CRASH_AT: step });
      const prompts = ["x", "y"].map((p) => `${step} ${p}`);
      const answers = Promise.all(prompts.map((p) => ask(p, model)));
      expect(await doomed.exited).toBe(-1);
      await stack.startPoller();
      const results = await answers;
      expect(results.map((r) => r.choices[0]?.message.content)).toEqual(prompts.map((p) => `echo: ${p}`));
      expect(await linesSubmitted(model)).toBe(prompts.length);
      void collator;
    },
  );
});
