import { describe, expect, it } from "vitest";
import { delayUntilLikelyDone, nextCheckDelay, progressOf, readingOf } from "./schedule.ts";

const limits = { minIntervalMs: 200, maxIntervalMs: 1000 };

describe("nextCheckDelay", () => {
  it("doubles from the minimum up to the maximum", () => {
    expect([0, 200, 400, 800, 1000].map((ms) => nextCheckDelay("in_progress", ms, limits))).toEqual([
      200, 400, 800, 1000, 1000,
    ]);
  });

  it("checks a finalizing batch again at the minimum interval", () => {
    expect(nextCheckDelay("finalizing", 800, limits)).toBe(200);
    expect(nextCheckDelay("finalizing", 200, limits)).toBe(200);
  });

  it("checks again when a running batch will likely be done, if that is sooner", () => {
    // 5,000 of 10,000 lines done, 4,000 of them in the last second: the rest takes 1.25 s.
    const now = { done: 5000, total: 10_000, atMs: 11_000 };
    expect(delayUntilLikelyDone({ done: 1000, atMs: 10_000 }, now, 8000, 200)).toBe(1250);
    // Never later than the schedule, never sooner than the minimum.
    expect(delayUntilLikelyDone({ done: 1000, atMs: 10_000 }, now, 1000, 200)).toBe(1000);
    expect(delayUntilLikelyDone({ done: 4990, atMs: 10_990 }, { ...now, done: 9999 }, 8000, 200)).toBe(200);
  });

  it("keeps to the schedule without two readings that show progress", () => {
    const now = { done: 5000, total: 10_000, atMs: 11_000 };
    expect(delayUntilLikelyDone(undefined, now, 800, 200)).toBe(800);
    expect(delayUntilLikelyDone({ done: 5000, atMs: 10_000 }, now, 800, 200)).toBe(800);
    expect(delayUntilLikelyDone({ done: 0, atMs: 11_000 }, now, 800, 200)).toBe(800);
    expect(progressOf(null, 1)).toBeUndefined();
    expect(progressOf({ total: 0, completed: 0, failed: 0 }, 1)).toBeUndefined();
    expect(progressOf({ total: 10, completed: 3, failed: 1 }, 5)).toEqual({ done: 4, total: 10, atMs: 5 });
  });

  it("takes a batch still validating as a first reading of no lines done", () => {
    const validating = progressOf({ total: 0, completed: 0, failed: 0 }, 10_000);
    const first = readingOf("validating", validating, 10_000);
    expect(first).toEqual({ done: 0, atMs: 10_000 });
    // Seen running next: 300 of 400 lines in 600 ms, the rest due in 200 ms, not at the doubled 800.
    const running = progressOf({ total: 400, completed: 300, failed: 0 }, 10_600)!;
    expect(delayUntilLikelyDone(first, running, 800, 100)).toBe(200);
    expect(readingOf("in_progress", running, 10_600)).toEqual({ done: 300, atMs: 10_600 });
    // Anything else without counts leaves no reading (the schedule alone decides).
    expect(readingOf("in_progress", undefined, 10_000)).toBeUndefined();
    expect(readingOf("finalizing", undefined, 10_000)).toBeUndefined();
  });
});
