import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { repeat } from "./repeat.ts";

describe("repeat", () => {
  it("runs at once, then at each tick, never two runs at a time", async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const repeating = repeat(async () => {
      running++;
      most = Math.max(most, running);
      runs++;
      await sleep(120); // outlasts six ticks
      running--;
    }, 20);
    await sleep(400);
    await repeating.stop();
    expect(most).toBe(1);
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(running).toBe(0);
  });

  it("goes on after a run that failed; stop waits for the run under way", async () => {
    let runs = 0;
    let finished = false;
    const repeating = repeat(async () => {
      runs++;
      if (runs === 1) throw new Error("first run fails");
      await sleep(50);
      finished = true;
    }, 10);
    await sleep(30);
    await repeating.stop();
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(finished).toBe(true);
  });
});
