import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `batch-gpt keys` as an operator runs it, against a gateway whose first admin key comes from the
// environment.

const MAIN = resolve(import.meta.dirname, "main.ts");
const ADMIN = "sk-first-admin-key-0000";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { GATEWAY_ADMIN_KEYS: ADMIN, HOST: "127.0.0.1", KEYS_REFRESH_MS: "200" } });
});
afterAll(() => stack?.close());

function cli(args: string[], key = ADMIN): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      {
        env: { ...process.env, BATCH_GPT_URL: stack.gateways[0]!.url, BATCH_GPT_ADMIN_KEY: key },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        done({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
  });
}

const chat = (key: string) =>
  fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "via a CLI key" }] }),
  });

describe("batch-gpt keys", () => {
  it("makes a key that works, lists it without its secret, and revokes it", async () => {
    const made = await cli(["keys", "create", "--name", "team-x", "--models", "gpt-4o-mini", "--rpm", "100"]);
    expect(made.code, made.stderr).toBe(0);
    const key = /^key: (\S+)$/m.exec(made.stdout)?.[1] as string;
    const id = /^(key_[0-9a-f]+) \(client, tenant team-x\)$/m.exec(made.stdout)?.[1] as string;
    expect(key).toMatch(/^bgk-/);
    expect((await chat(key)).status).toBe(200);

    const listed = await cli(["keys", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^${id} +team-x +client +…${key.slice(-4)} +models gpt-4o-mini; 100 rpm$`, "m"),
    );
    expect(listed.stdout).not.toContain(key);

    expect((await cli(["keys", "revoke", id])).stdout).toContain(`${id} revoked`);
    await eventually(async () => (await chat(key)).status === 401, 10_000, "the revoked key to be refused");
  });

  it("needs an admin key, and says how to use it", async () => {
    const refused = await cli(["keys", "list"], "sk-not-a-key");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("HTTP 401");
    const usage = await cli(["keys", "create"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("usage: batch-gpt keys create --name TENANT");
    expect((await cli(["keys", "create", "--name", "x", "--rpm", "fast"])).code).toBe(2);
  });
});
