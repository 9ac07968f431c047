import { describe, expect, it } from "vitest";
import { redactSecrets } from "./errors.ts";

describe("redactSecrets", () => {
  it("masks OpenAI keys, their masked forms, gateway keys and bearer tokens", () => {
    expect(redactSecrets("Incorrect API key provided: sk-proj-abc****wxyz. See …")).toBe(
      "Incorrect API key provided: sk-***. See …",
    );
    expect(redactSecrets("key sk-0123456789abcdef and bgk-Zm9vYmFy_-x")).toBe("key sk-*** and bgk-***");
    expect(redactSecrets("Authorization: Bearer abc.def")).toBe("Authorization: Bearer ***");
    expect(redactSecrets("bad URI mongodb://admin:hunter2@/db and redis://:pw@h:6379")).toBe(
      "bad URI mongodb://admin:***@/db and redis://:***@h:6379",
    );
  });
  it("leaves ordinary words alone", () => {
    for (const text of ["task-force", "ask-me", "sk-1", "The model `gpt-4o` does not exist"]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });
});
