import { describe, expect, it } from "vitest";
import { intern, internedCount, MAX_COPIES } from "./intern.ts";

describe("intern", () => {
  it("keeps one copy per distinct value, however often it is asked for", () => {
    const before = internedCount();
    for (let i = 0; i < 1000; i++) {
      const parsed = JSON.parse(`["gpt-4o-mini-interned-${i % 3}"]`) as string[];
      expect(intern(parsed[0]!)).toBe(`gpt-4o-mini-interned-${i % 3}`);
    }
    expect(internedCount()).toBe(before + 3);
  });

  it("starts again past its bound, rather than growing with values that vary per job", () => {
    for (let i = 0; i < MAX_COPIES * 2.5; i++) expect(intern(`value-${i}`)).toBe(`value-${i}`);
    expect(internedCount()).toBeLessThanOrEqual(MAX_COPIES);
    expect(internedCount()).toBeGreaterThan(0);
  });
});
