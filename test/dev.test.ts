/**
 * `npm run dev` end to end: scripts/dev.ts brings up the emulator, gateway, collator and poller as child
 * processes (on the test run's Redis and Mongo), answers a chat completion through a real batch, and on
 * SIGTERM stops everything and leaves no process behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@batch-gpt/local-services";
import { openStore } from "@batch-gpt/store";
import { descendants, eventually, isAlive, ROOT, services, uniqueName } from "@batch-gpt/testing";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";

let dev: ChildProcess | undefined;
let output = "";
const dataDir = mkdtempSync(join(tmpdir(), "batch-gpt-dev-"));
const dbName = uniqueName("dev");

afterAll(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) dev.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
  const store = await openStore(services().mongoUri, dbName);
  await store.mongo.db.dropDatabase().catch(() => {});
  await store.close();
});

describe("npm run dev (scripts/dev.ts)", () => {
  it("runs the stack against the emulator, answers through a batch, and stops cleanly", async () => {
    const { redisUrl, mongoUri } = services();
    const [port, emulatorPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      EMULATOR_PORT: String(emulatorPort),
      REDIS_URL: redisUrl,
      MONGODB_URI: mongoUri,
      MONGO_DATABASE: dbName,
      BULL_PREFIX: uniqueName("q"),
      DEV_DATA_DIR: dataDir,
      COLLATE_BATCHES_FOR_DURATION_IN_MS: "200",
      COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: "100",
      EMULATOR_BATCH_DURATION_MS: "300",
      LOG_LEVEL: "info",
    };
    for (const name of ["OPENAI_API_KEY", "OPENAI_BASE_URL", "MONGO_HOST", "EMULATOR_STATE_DIR"]) {
      delete env[name];
    }
    const child = spawn(process.execPath, [join(ROOT, "scripts", "dev.ts")], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    dev = child;
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));

    const origin = `http://127.0.0.1:${port}`;
    await eventually(
      async () => child.exitCode === null && (await fetch(`${origin}/healthz`)).status === 200,
      90_000,
      "the gateway's /healthz",
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- dev output ---\n${output}`);
    });
    expect(output).toMatch(/OpenAI EMULATOR/);
    // The banner follows dev's own health check, which may come a moment after ours.
    await eventually(
      () => output.includes(`batch-gpt is running. Gateway: ${origin}/v1`),
      30_000,
      "the banner",
    );

    const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: "sk-dev-test", maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hello dev" }],
    });
    expect(completion.choices[0]?.message.content).toBe("echo: hello dev");
    const stats = (await (await fetch(`http://127.0.0.1:${emulatorPort}/_emulator/stats`)).json()) as {
      batchesCreated: number;
      realtimeRequests: number;
    };
    expect(stats.batchesCreated).toBeGreaterThanOrEqual(1);
    expect(stats.realtimeRequests).toBe(0);

    // The banner says where each app's metrics are: the collator and the poller each on a port of its own.
    const collatorMetrics = /collator (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(output)?.[1];
    const pollerMetrics = /poller (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(output)?.[1];
    expect(output).toContain(`gateway ${origin}/metrics`);
    expect(collatorMetrics).toBeDefined();
    expect(pollerMetrics).not.toBe(collatorMetrics);
    for (const url of [`${origin}/metrics`, collatorMetrics!, pollerMetrics!]) {
      const res = await fetch(url);
      expect([url, res.status]).toEqual([url, 200]);
      expect(await res.text()).toContain("process_cpu_user_seconds_total");
    }

    const family = descendants(child.pid!);
    const commands = [...family.values()].join("\n");
    for (const app of ["openai-emulator", "gateway", "collator", "poller"]) {
      expect(commands).toContain(`apps/${app}/src/main.ts`);
    }

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    await eventually(
      () => [...family.keys()].every((pid) => !isAlive(pid)),
      15_000,
      "every process dev started to be gone",
    ).catch((err: Error) => {
      const left = [...family].filter(([pid]) => isAlive(pid)).map(([pid, cmd]) => `${pid} ${cmd}`);
      throw new Error(`${err.message}; still running:\n${left.join("\n")}`);
    });
    expect(output).toMatch(
      /stopping gateway[\s\S]*stopping collator[\s\S]*stopping poller[\s\S]*stopping emulator/,
    );
  }, 150_000);
});
