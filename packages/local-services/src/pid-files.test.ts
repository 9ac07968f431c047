import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PidFiles, startTimeOf } from "./pid-files.ts";

const dir = mkdtempSync(join(tmpdir(), "batch-gpt-pids-"));
const spawned: number[] = [];
afterAll(() => {
  for (const pid of spawned) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A process leading its own group, as the launchers start them, once it runs its loop; `ignoreTerm`:
 * it only dies by SIGKILL (its trap set before it says it is ready).
 */
async function sleeper(ignoreTerm = false): Promise<number> {
  const script = `${ignoreTerm ? "trap '' TERM; " : ""}echo ready; while true; do sleep 1; done`;
  const child = spawn("sh", ["-c", script], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  spawned.push(child.pid!);
  await once(child.stdout!, "data");
  child.stdout!.destroy();
  child.unref();
  return child.pid!;
}

describe("PidFiles", () => {
  it("stops what the files name (SIGKILL for one that ignores SIGTERM), and removes the files", async () => {
    const files = new PidFiles(join(dir, "a"));
    const [plain, stubborn] = [await sleeper(), await sleeper(true)];
    files.record("plain", plain);
    files.record("stubborn", stubborn);
    const stopped = await files.stopLeftovers(500);
    expect(stopped.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: "plain", pid: plain, killed: false },
      { name: "stubborn", pid: stubborn, killed: true },
    ]);
    expect([startTimeOf(plain), startTimeOf(stubborn)]).toEqual([undefined, undefined]);
    expect(await files.stopLeftovers()).toEqual([]);
  });

  it("leaves alone a process that reuses a recorded pid (another start time) and a forgotten one", async () => {
    const files = new PidFiles(join(dir, "b"));
    const [other, forgotten] = [await sleeper(), await sleeper()];
    files.record("forgotten", forgotten);
    files.forget("forgotten");
    writeFileSync(join(dir, "b", "reused.pid"), JSON.stringify({ pid: other, start: "1" }));
    expect(await files.stopLeftovers(500)).toEqual([]);
    expect(startTimeOf(other)).toBeDefined();
    expect(startTimeOf(forgotten)).toBeDefined();
  });
});
