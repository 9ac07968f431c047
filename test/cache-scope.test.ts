import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// CACHE_SCOPE=shared: one cache and one in-flight dedup for every tenant (single-team deployments);
// async calls still belong to the tenant that made them.

const TEAM_A = "sk-shared-a-0000000000";
const TEAM_B = "sk-shared-b-0000000000";
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { HOST: "127.0.0.1", GATEWAY_API_KEYS: `${TEAM_A},${TEAM_B}`, CACHE_SCOPE: "shared" },
  });
});
afterAll(() => stack?.close());

const sdk = (apiKey: string) => stack.clientFor(stack.gateways[0]!, { apiKey });
const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });

describe("CACHE_SCOPE=shared", () => {
  it("answers one tenant from another's cache, and attaches them to one line", async () => {
    const first = await sdk(TEAM_A).chat.completions.create(chat("shared answer")).withResponse();
    expect(first.response.headers.get("x-batch-cache")).toBe("miss");
    const lines = (await stack.emulatorStats()).linesSubmitted;
    const second = await sdk(TEAM_B).chat.completions.create(chat("shared answer")).withResponse();
    expect(second.response.headers.get("x-batch-cache")).toBe("hit");
    expect(second.data.choices[0]?.message.content).toBe("echo: shared answer");

    const both = await Promise.all([
      sdk(TEAM_A).chat.completions.create(chat("shared line")),
      sdk(TEAM_B).chat.completions.create(chat("shared line")),
    ]);
    expect(both.map((a) => a.choices[0]?.message.content)).toEqual([
      "echo: shared line",
      "echo: shared line",
    ]);
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines + 1);
  });

  it("still keeps an async call to the tenant that made it", async () => {
    const created = await sdk(TEAM_A).post<{ id: string }>("/chat/completions", {
      body: chat("shared but owned"),
      headers: { "x-batch-mode": "async" },
    });
    const other = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions/${created.id}`, {
      headers: { authorization: `Bearer ${TEAM_B}` },
    });
    expect(other.status).toBe(404);
  });
});
