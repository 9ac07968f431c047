import { apiError, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The provider refuses the gateway's own key: callers are told, but never see any part of the key,
// nor a 401 that would make them doubt their own.

const PROVIDER_KEY = "sk-wrong-provider-key-5ecret42";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    emulatorApiKeys: ["sk-the-only-key-the-provider-takes"],
    env: { OPENAI_API_KEY: PROVIDER_KEY },
  });
});
afterAll(() => stack?.close());

describe("the provider refuses the gateway's key", () => {
  it("answers the caller 502 with no trace of the key", async () => {
    const error = await apiError(
      stack.client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "with a refused provider key" }],
      }),
    );
    expect(error.status).toBe(502);
    expect(error.type).toBe("server_error");
    const seen = JSON.stringify(error.error);
    expect(seen).not.toMatch(/5ecret42|sk-wrong|invalid_api_key/);
    // Nor is it stored.
    const answers = await stack.store.mongo.db.collection("answers").find({}).toArray();
    expect(answers.length).toBeGreaterThan(0);
    expect(JSON.stringify(answers)).not.toMatch(/5ecret42|sk-wrong/);
  });
});
