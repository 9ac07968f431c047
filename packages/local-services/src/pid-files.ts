import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A process found by its pid file and stopped. */
export interface Leftover {
  name: string;
  pid: number;
  /** Whether it had to be killed (it outlived SIGTERM's grace). */
  killed: boolean;
}

/**
 * The kernel's start time of `pid` (clock ticks since boot, /proc/PID/stat field 22), or undefined when
 * no such process runs (a zombie has ended: it holds no port and no file). With the pid it names one
 * process for good: a pid reused by another program has another start time.
 */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // the group it leads (its own children too)
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

/**
 * One pid file per process a launcher started (`DIR/<name>.pid`: its pid and start time), removed when
 * it stops. A launcher killed without a chance to clean up leaves them; the next one, before it touches
 * the data folder the processes use, stops whatever they name that still runs (`stopLeftovers`). The
 * watchdogs normally stop those processes first; this covers the watchdogs themselves being killed.
 */
export class PidFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  record(name: string, pid: number | undefined): void {
    if (pid === undefined) return;
    const start = startTimeOf(pid);
    if (start === undefined) return;
    mkdirSync(this.#dir, { recursive: true });
    writeFileSync(join(this.#dir, `${name}.pid`), `${JSON.stringify({ pid, start })}\n`);
  }

  forget(name: string): void {
    rmSync(join(this.#dir, `${name}.pid`), { force: true });
  }

  /** Stops every process a pid file names that still runs (SIGTERM, SIGKILL after `graceMs`). */
  async stopLeftovers(graceMs = 10_000): Promise<Leftover[]> {
    let files: string[];
    try {
      files = readdirSync(this.#dir).filter((f) => f.endsWith(".pid"));
    } catch {
      return [];
    }
    const running: { name: string; pid: number; start: string }[] = [];
    for (const file of files) {
      const name = file.slice(0, -".pid".length);
      try {
        const { pid, start } = JSON.parse(readFileSync(join(this.#dir, file), "utf8")) as {
          pid: unknown;
          start: unknown;
        };
        if (typeof pid === "number" && typeof start === "string" && startTimeOf(pid) === start) {
          running.push({ name, pid, start });
        }
      } catch {
        // unreadable: nothing to stop
      }
    }
    const isRunning = (p: { pid: number; start: string }) => startTimeOf(p.pid) === p.start;
    for (const p of running) signal(p.pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (running.some(isRunning) && Date.now() < deadline) await sleep(100);
    const stopped: Leftover[] = running.map((p) => ({ name: p.name, pid: p.pid, killed: isRunning(p) }));
    for (const p of running) if (isRunning(p)) signal(p.pid, "SIGKILL");
    while (running.some(isRunning)) await sleep(50);
    for (const file of files) rmSync(join(this.#dir, file), { force: true });
    return stopped;
  }
}
