import { describe, expect, it } from "vitest";
import { ConfigError } from "./env.ts";
import { paceHeap } from "./heap.ts";

describe("paceHeap", () => {
  it("paces full collections at 25% growth unless told otherwise", () => {
    expect(paceHeap({}, "test")).toBe(25);
    expect(paceHeap({ HEAP_GROWING_PERCENT: "60" }, "test")).toBe(60);
  });

  it("leaves V8's own pace with 0", () => {
    expect(paceHeap({ HEAP_GROWING_PERCENT: "0" }, "test")).toBe(0);
  });

  it("refuses a value that is no percentage, naming the setting", () => {
    for (const bad of ["fast", "-5", "401", "1.5"]) {
      expect(() => paceHeap({ HEAP_GROWING_PERCENT: bad }, "test")).toThrow(ConfigError);
      expect(() => paceHeap({ HEAP_GROWING_PERCENT: bad }, "test")).toThrow(/HEAP_GROWING_PERCENT/);
    }
  });
});
