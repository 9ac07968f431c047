import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RunningProcess {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a server process whose output goes to `logFile`. A tiny shell watchdog kills it when this
 * process dies, even by SIGKILL, so no Redis or FerretDB outlives the test run or `dev` that started it.
 */
export function startProcess(command: string, args: string[], logFile: string): RunningProcess {
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: "a" });
  // Its own process group: a terminal's Ctrl-C reaches only the parent, which stops servers last.
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const watchdog = killWhenParentDies(child.pid);
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      watchdog.stop();
    },
  };
}

/** Resolves once a TCP connection to host:port succeeds; rejects if the process exits or time runs out. */
export async function waitForPort(
  port: number,
  proc: RunningProcess,
  what: string,
  logFile: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${what} exited with code ${proc.child.exitCode} before it listened; see ${logFile}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms; see ${logFile}`);
}

/** How long a watched process has between SIGTERM and SIGKILL once its parent is gone. */
const WATCHDOG_GRACE_S = 5;

/**
 * A tiny shell watchdog that stops `pid`'s process group once this process is gone, even by SIGKILL
 * (nothing in Node runs then): SIGTERM, then SIGKILL after a grace period (a process whose shutdown
 * hangs, say on a server that died at the same moment, would otherwise stay for ever). It learns of the
 * death from its stdin, a pipe whose only writer is this process: the kernel closes it when this
 * process exits, whoever reaps it. Polling the parent's pid would not do: a parent nobody reaps (a
 * container's init that never waits) stays a zombie, and a zombie still "exists" to `kill -0`. The
 * watched process must lead its own group (spawned `detached`). The watchdog leads its own group too,
 * so a signal to its parent's group does not reach it, and `stop()` ends it together with its `sleep`.
 */
export function killWhenParentDies(pid: number | undefined): { stop(): void } {
  if (pid === undefined) return { stop() {} };
  const group = `-${pid}`;
  const script = [
    "read -r _ignored",
    `kill -TERM ${group} 2>/dev/null || exit 0`,
    `i=0; while [ $i -lt ${WATCHDOG_GRACE_S * 10} ] && kill -0 ${group} 2>/dev/null; do sleep 0.1; i=$((i+1)); done`,
    `kill -KILL ${group} 2>/dev/null`,
  ].join("\n");
  const watchdog = spawn("sh", ["-c", script], { stdio: ["pipe", "ignore", "ignore"], detached: true });
  watchdog.unref();
  // The pipe must neither keep this process alive nor fail it once the watchdog is gone.
  watchdog.stdin?.on("error", () => {});
  (watchdog.stdin as unknown as { unref?(): void } | null)?.unref?.();
  return {
    stop() {
      if (watchdog.pid === undefined) return;
      try {
        process.kill(-watchdog.pid, "SIGKILL");
      } catch {
        // already gone
      }
      watchdog.stdin?.destroy();
    },
  };
}
