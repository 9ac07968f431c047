import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import type { AdminBatchList } from "@batch-gpt/contracts";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The CLI as an operator runs it (its real entry point, as a process) against a running stack whose
// collation window is a minute: only a flush collates.

const MAIN = resolve(import.meta.dirname, "main.ts");

let stack: Stack;
let url: string;
beforeAll(async () => {
  stack = await startStack({ batchDurationMs: 3000, env: { COLLATE_BATCHES_FOR_DURATION_IN_MS: "60000" } });
  url = stack.gateways[0]!.url;
});
afterAll(() => stack?.close());

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { ...process.env, BATCH_GPT_URL: url, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        done({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
  });
}

async function queueAsync(model: string, content: string): Promise<string> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-batch-mode": "async" },
    body: JSON.stringify({ model, messages: [{ role: "user", content }] }),
  });
  return ((await response.json()) as { id: string }).id;
}

describe("batch-gpt", () => {
  it("lists its commands; an unknown command or flag is a usage error", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["status", "batches", "cancel", "flush", "requests", "erase"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    }
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const badFlag = await cli(["batches", "--colour"]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("usage: batch-gpt batches");
    expect((await cli(["batches", "--status", "done"])).code).toBe(2);
  });

  it("status, flush, batches --watch and requests follow a request from the queue to its answer", async () => {
    const callId = await queueAsync("gpt-cli", "from the command line");
    const status = await eventually(async () => {
      const ran = await cli(["status"]);
      return /^\s+gpt-cli\s+0\s+1\s+0$/m.test(ran.stdout) && ran;
    });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^queue\s+1 request waiting to be collated$/m);
    expect(status.stdout).toMatch(/^batches\s+active 0 · completed 0 /m);

    const flushed = await cli(["flush", "--model", "gpt-cli"]);
    expect(flushed).toMatchObject({ code: 0, stdout: "flush of gpt-cli sent to 1 collator\n" });

    // Follows the batch until it is finished, then stops by itself (the gateway's list of records is
    // a few seconds behind: wait until it has the batch).
    await eventually(async () => (await cli(["batches"])).stdout.includes("gpt-cli"));
    const watched = await cli(["batches", "--watch", "--interval", "1"]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain("nothing active");
    expect(watched.stdout).toMatch(/completed\s+gpt-cli\s+\/v1\/chat\/completions\s+\[#{20}\]\s+1\/1/);

    const listed = await cli(["batches", "--status", "completed", "--json"]);
    const list = JSON.parse(listed.stdout) as AdminBatchList;
    expect(list.data.map((b) => [b.model, b.status])).toEqual([["gpt-cli", "completed"]]);

    const traced = await cli(["requests", callId]);
    expect(traced.code).toBe(0);
    expect(traced.stdout).toContain(`(async call ${callId})`);
    expect(traced.stdout).toMatch(/^state\s+succeeded, answered 200$/m);
    expect(traced.stdout).toContain(
      `attempt 0  batch ${list.data[0]!.providerBatchId} (${list.data[0]!.id})  completed  1/1 done`,
    );
    const unknown = await cli(["requests", "req_unknown"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No request found with id 'req_unknown'. (HTTP 404)");
  });

  it("cancels a running batch; a finished one cannot be", async () => {
    // A batch that runs a minute: still running whenever the (few seconds behind) list shows it.
    await fetch(`${stack.emulator.origin}/_emulator/next-batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outcome: "complete", durationMs: 60_000 }),
    });
    await queueAsync("gpt-cli-cancel", "cancel me");
    await eventually(async () => /gpt-cli-cancel\s+0\s+1/.test((await cli(["status"])).stdout));
    await cli(["flush"]);
    const running = await eventually(async () => {
      const list = JSON.parse(
        (await cli(["batches", "--status", "active", "--json"])).stdout,
      ) as AdminBatchList;
      return list.data.find((b) => b.model === "gpt-cli-cancel" && b.providerBatchId);
    });
    const cancelled = await cli(["cancel", running.providerBatchId!]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`${running.providerBatchId} (${running.id}): cancelling`);
    await eventually(async () => {
      const list = JSON.parse(
        (await cli(["batches", "--status", "cancelled", "--json"])).stdout,
      ) as AdminBatchList;
      return list.data.some((b) => b.id === running.id);
    });
    const again = await cli(["cancel", running.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("Cannot cancel a batch with status 'cancelled'. (HTTP 409)");
  });

  it("sends the admin key as a bearer token, from the flag or BATCH_GPT_ADMIN_KEY", async () => {
    const seen: (string | undefined)[] = [];
    const gateway = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "Incorrect API key provided." } }));
    });
    await new Promise<void>((done) => gateway.listen(0, "127.0.0.1", done));
    const other = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    try {
      const refused = await cli(["status", "--url", other, "--key", "sk-admin-flag"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("Incorrect API key provided. (HTTP 401)");
      await cli(["status"], { BATCH_GPT_URL: other, BATCH_GPT_ADMIN_KEY: "sk-admin-env" });
      expect(seen).toEqual(["Bearer sk-admin-flag", "Bearer sk-admin-env"]);
    } finally {
      await new Promise((done) => gateway.close(done));
    }
    const unreachable = await cli(["status", "--url", "http://127.0.0.1:9"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach the gateway at http://127.0.0.1:9");
  });
});
