import { describe, expect, it } from "vitest";
import { cachedFor } from "./cached.ts";

describe("cachedFor", () => {
  it("shares one read among callers within the time, and reads again after it", async () => {
    let reads = 0;
    const read = cachedFor(60_000, async () => ++reads);
    expect(await Promise.all([read(), read(), read()])).toEqual([1, 1, 1]);
    expect(await read()).toBe(1);
    const short = cachedFor(0, async () => ++reads);
    expect(await short()).toBe(2);
    expect(await short()).toBe(3);
  });

  it("does not remember a failed read", async () => {
    let calls = 0;
    const read = cachedFor(60_000, async () => {
      calls++;
      if (calls === 1) throw new Error("down");
      return calls;
    });
    await expect(read()).rejects.toThrow("down");
    expect(await read()).toBe(2);
    expect(await read()).toBe(2);
  });
});
