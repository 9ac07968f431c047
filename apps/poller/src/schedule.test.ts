import { describe, expect, it } from "vitest";
import { nextCheckDelay } from "./schedule.ts";

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
});
