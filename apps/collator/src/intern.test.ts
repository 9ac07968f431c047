import { describe, expect, it } from "vitest";
import { intern } from "./intern.ts";

describe("intern", () => {
  it("gives back the first copy of an equal string", () => {
    const parsed = JSON.parse('["gpt-4o-mini-interned", "gpt-4o-mini-interned"]') as string[];
    const first = intern(parsed[0]!);
    expect(intern(parsed[1]!)).toBe(first);
    expect(intern(`${"gpt-4o-mini"}-interned`)).toBe("gpt-4o-mini-interned");
  });

  it("keeps working past its bound", () => {
    for (let i = 0; i < 25_000; i++) expect(intern(`value-${i}`)).toBe(`value-${i}`);
  });
});
