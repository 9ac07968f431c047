/**
 * The soak's short version: `bench/soak.ts --quick` runs the whole system as real processes (its own
 * Redis, restarted once; the run's MongoDB-compatible server; the emulator, a gateway, two collators and
 * two pollers), kills collators and pollers, injects the emulator's faults, and audits. Its summary must
 * show the chaos happened and nothing went wrong: no caller lost or given a wrong answer, no line billed
 * twice, no orphan record, job or key.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRedis } from "@batch-gpt/queue";
import { eventually, ROOT, services, startStack } from "@batch-gpt/testing";
import OpenAI, { toFile } from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { auditProvider, auditRedis, auditStore } from "../bench/soak/audit.ts";

const dir = mkdtempSync(join(tmpdir(), "batch-gpt-soak-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pnpm soak --quick", () => {
  it("answers every caller exactly once through kills, a Redis restart and provider faults", async () => {
    const out = join(dir, "summary.json");
    const env: NodeJS.ProcessEnv = { ...process.env, MONGODB_URI: services().mongoUri };
    delete env.REDIS_URL; // the soak restarts its own Redis
    const soak = spawn(process.execPath, [join(ROOT, "bench", "soak.ts"), "--quick", "--out", out], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    soak.stdout.on("data", (d) => (output += d));
    soak.stderr.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((r) => soak.once("exit", (c) => r(c)));
    expect([code, code === 0 ? "" : output]).toEqual([0, ""]);

    const summary = JSON.parse(readFileSync(out, "utf8"));
    expect(summary.ok).toBe(true);
    // Every endpoint and mode was exercised, and the chaos happened.
    expect(Object.keys(summary.byEndpoint).sort()).toEqual([
      "/v1/chat/completions",
      "/v1/completions",
      "/v1/embeddings",
      "/v1/responses",
    ]);
    expect(Object.keys(summary.byMode).sort()).toEqual(["async", "cache", "stream", "sync"]);
    expect(summary.chaos.kills.collator + summary.chaos.kills.poller).toBeGreaterThan(0);
    expect(summary.chaos.redisRestarts).toBe(1);
    expect(
      Object.values(summary.chaos.faults as Record<string, number>).reduce((a, b) => a + b, 0),
    ).toBeGreaterThan(0);
    expect(summary.callers.answered).toBeGreaterThan(summary.requests / 2);
    // The audit: nothing lost, duplicated, wrong or left behind.
    expect(summary.problems).toEqual({
      lost: 0,
      notSent: 0,
      wrong: 0,
      duplicated: 0,
      answeredWithoutExecution: 0,
      executedUnrecorded: 0,
      requestsWithoutOutcome: 0,
      unfinishedRecords: 0,
      jobsLeft: 0,
      orphanJobs: 0,
      unboundedKeys: 0,
      admissionLeft: 0,
    });
    expect(summary.provider.linesExecuted).toBe(
      summary.store.requests -
        Object.values(summary.store.notExecuted as Record<string, number>).reduce((a, b) => a + b, 0),
    );
  }, 120_000);
});

describe("the soak's audit", () => {
  it("finds a line the provider ran twice, a request it never ran, and a key that lives for ever", async () => {
    const stack = await startStack();
    const redis = createRedis(services().redisUrl, "client");
    try {
      const content = "soak dup-1: what comes after 5?";
      await stack.client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content }],
      });
      let audit = await auditProvider(stack.emulator.origin);
      expect([audit.linesExecuted, audit.billedTwice]).toEqual([1, []]);
      const [requestId] = [...audit.executedIds];
      const prefix = stack.env.BULL_PREFIX!;
      expect((await auditRedis(services().redisUrl, prefix)).unbounded).toEqual([]);

      // The same line in a second batch, as a collator creating a record's batch twice would send it.
      const provider = new OpenAI({ baseURL: stack.emulator.url, apiKey: "sk-soak", maxRetries: 0 });
      const line = JSON.stringify({
        custom_id: requestId,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content }] },
      });
      const file = await provider.files.create({
        file: await toFile(Buffer.from(`${line}\n`), "again.jsonl"),
        purpose: "batch",
      });
      const batch = await provider.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
      await eventually(
        async () => (await provider.batches.retrieve(batch.id)).status === "completed",
        30_000,
      );
      audit = await auditProvider(stack.emulator.origin);
      expect(audit.billedTwice).toEqual([requestId]);
      expect(audit.bodiesBilledTwice).toEqual(["dup-1"]);

      // A request the store holds that the provider never ran is reported with its outcome.
      const store = await auditStore(services().mongoUri, stack.env.MONGO_DATABASE!, new Set());
      expect(store.notExecuted).toEqual({ "answered without a line": 1 });
      await redis.set(`${prefix}:stray`, "1");
      expect((await auditRedis(services().redisUrl, prefix)).unbounded).toEqual([`${prefix}:stray`]);
    } finally {
      redis.disconnect();
      await stack.close();
    }
  });
});
