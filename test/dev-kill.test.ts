/**
 * `npm run dev` killed at a bad moment leaves nothing behind. dev runs its own Redis and
 * MongoDB-compatible server here (no REDIS_URL / MONGODB_URI), as it does on a laptop, under a parent
 * that never reaps it (as a container's init may not: the killed dev stays a zombie, which its
 * watchdogs must not take for alive). After dev is SIGKILLed (or sent SIGTERM and, two seconds later,
 * SIGKILL) none of its processes survives, and the next dev starts cleanly on the same data folder. When
 * the watchdogs were killed too, the next dev finds what was left from the pid files in the data folder
 * and stops it before it starts anything there.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "@batch-gpt/local-services";
import { descendants, eventually, isAlive, ROOT } from "@batch-gpt/testing";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";

interface Dev {
  /** dev's own pid (under the non-reaping parent, not the spawned child's). */
  pid: number;
  origin: string;
  output(): string;
  /** Resolves once dev is gone, with its exit code when it is our own child. */
  exited: Promise<number | null>;
}

const started: ChildProcess[] = [];
const dirs: string[] = [];
/** Every process a dev of this file ran, killed at the end whatever happened. */
const everyProcess = new Set<number>();

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  }
  await sleep(500);
  for (const pid of everyProcess) {
    try {
      if (isAlive(pid)) process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  if (!process.env.KEEP_DEV_DIRS) for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "batch-gpt-dev-kill-"));
  dirs.push(dir);
  return dir;
}

/**
 * Starts scripts/dev.ts on `dir` with its own servers and the emulator; resolves once its banner is out.
 * `orphaned`: its parent is a `sleep` that never reaps it, so once killed it stays a zombie.
 */
async function startDev(dir: string, opts: { orphaned?: boolean } = {}): Promise<Dev> {
  const [port, emulatorPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    EMULATOR_PORT: String(emulatorPort),
    DEV_DATA_DIR: dir,
    COLLATE_BATCHES_FOR_DURATION_IN_MS: "200",
    COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: "100",
    EMULATOR_BATCH_DURATION_MS: "300",
    LOG_LEVEL: "warn",
  };
  for (const name of [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "REDIS_URL",
    "MONGODB_URI",
    "MONGO_HOST",
    "EMULATOR_STATE_DIR",
  ]) {
    delete env[name];
  }
  const script = join(ROOT, "scripts", "dev.ts");
  const child = opts.orphaned
    ? // The shell starts dev in the background, prints its pid, and becomes a sleep that never waits.
      spawn("sh", ["-c", `"$0" "$1" & echo "dev-pid $!"; exec sleep 100000`, process.execPath, script], {
        cwd: ROOT,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn(process.execPath, [script], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  started.push(child);
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const pid = opts.orphaned
    ? await eventually(() => Number(/dev-pid (\d+)/.exec(output)?.[1]) || undefined, 10_000, "dev's pid")
    : child.pid!;
  if (opts.orphaned) everyProcess.add(pid);
  const exited = opts.orphaned
    ? eventually(() => !isAlive(pid), 60_000, "dev to be gone").then(() => null)
    : new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const origin = `http://127.0.0.1:${port}`;
  await eventually(
    () => {
      if (!isAlive(pid)) throw new Error("dev exited");
      return output.includes(`batch-gpt is running. Gateway: ${origin}/v1`);
    },
    120_000,
    "dev's banner",
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- dev output ---\n${output}`);
  });
  return { pid, origin, output: () => output, exited };
}

async function answers(dev: Dev, content: string): Promise<void> {
  const client = new OpenAI({ baseURL: `${dev.origin}/v1`, apiKey: "sk-dev-test", maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content }],
  });
  expect(completion.choices[0]?.message.content).toBe(`echo: ${content}`);
}

/** dev's whole family: the servers, the emulator and apps, and their watchdogs. */
function familyOf(dev: Dev): Map<number, string> {
  const family = descendants(dev.pid);
  const commands = [...family.values()].join("\n");
  for (const part of ["redis-server", "ferretdb", "openai-emulator", "gateway", "collator", "poller"]) {
    expect(commands).toContain(part);
  }
  for (const pid of family.keys()) everyProcess.add(pid);
  return family;
}

async function noneSurvive(family: Map<number, string>, what: string): Promise<void> {
  await eventually(() => [...family.keys()].every((pid) => !isAlive(pid)), 30_000, what).catch(
    (err: Error) => {
      const left = [...family].filter(([pid]) => isAlive(pid)).map(([pid, cmd]) => `${pid} ${cmd}`);
      throw new Error(`${err.message}; still running:\n${left.join("\n")}`);
    },
  );
}

/** The next dev on the same folder comes up, answers through a batch, and stops cleanly. */
async function nextDevStartsCleanly(dir: string, leftover: Map<number, string>): Promise<void> {
  const next = await startDev(dir);
  // Nothing from before is running next to it (a second FerretDB over the same files, say).
  expect([...leftover].filter(([pid]) => isAlive(pid))).toEqual([]);
  await answers(next, "after the kill");
  process.kill(next.pid, "SIGTERM");
  expect(await next.exited).toBe(0);
}

describe("npm run dev killed at any moment", () => {
  it("SIGKILL: no process of it survives, and the next dev starts on the same data folder", async () => {
    const dir = dataDir();
    const dev = await startDev(dir, { orphaned: true });
    await answers(dev, "before the kill");
    const family = familyOf(dev);
    process.kill(dev.pid, "SIGKILL");
    await dev.exited;
    await noneSurvive(family, "every process of the killed dev to be gone");
    await nextDevStartsCleanly(dir, family);
  }, 300_000);

  it("SIGTERM then SIGKILL 2 s later: no process of it survives, and the next dev starts", async () => {
    const dir = dataDir();
    const dev = await startDev(dir, { orphaned: true });
    const family = familyOf(dev);
    process.kill(dev.pid, "SIGTERM");
    await sleep(2000);
    if (isAlive(dev.pid)) process.kill(dev.pid, "SIGKILL");
    await dev.exited;
    await noneSurvive(family, "every process of the killed dev to be gone");
    await nextDevStartsCleanly(dir, family);
  }, 300_000);

  it("SIGTERM then SIGKILL mid-shutdown: no process of it survives, and the next dev starts", async () => {
    const dir = dataDir();
    const dev = await startDev(dir, { orphaned: true });
    const family = familyOf(dev);
    process.kill(dev.pid, "SIGTERM");
    // Killed while it stops its parts in order: the servers, stopped last, are still running.
    await eventually(() => dev.output().includes("stopping gateway"), 10_000, "dev to start stopping");
    process.kill(dev.pid, "SIGKILL");
    await dev.exited;
    await noneSurvive(family, "every process of the killed dev to be gone");
    await nextDevStartsCleanly(dir, family);
  }, 300_000);

  it("dev and its watchdogs SIGKILLed: the next dev stops what they left before it starts", async () => {
    const dir = dataDir();
    const dev = await startDev(dir, { orphaned: true });
    const family = familyOf(dev);
    const watchdogs = [...family].filter(([, cmd]) => cmd.startsWith("sh -c"));
    expect(watchdogs.length).toBeGreaterThanOrEqual(6);
    // Stopped first, so they cannot act when dev dies: its servers and apps are orphaned, still running.
    for (const [pid] of watchdogs) process.kill(pid, "SIGKILL");
    process.kill(dev.pid, "SIGKILL");
    await dev.exited;
    await sleep(3000);
    const orphans = [...family].filter(
      ([pid, cmd]) => !cmd.startsWith("sh -c") && !cmd.startsWith("sleep") && isAlive(pid),
    );
    expect(orphans.map(([, cmd]) => cmd).join("\n")).toContain("ferretdb");
    await nextDevStartsCleanly(dir, new Map(orphans));
  }, 300_000);
});
