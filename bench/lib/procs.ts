/**
 * Child processes of the bench: every one in its own process group (a terminal's Ctrl-C reaches only the
 * bench, which stops them in order), its output in a log file, and a watchdog from
 * `@batch-gpt/local-services` that stops it if the bench itself dies, even by SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { killWhenParentDies } from "@batch-gpt/local-services";
import { ROOT } from "./paths.ts";

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<ChildExit>;
  /** Resolves with the first output line matching `pattern`; rejects if the child exits or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** The next IPC message of `type` (children started with `ipc`); rejects if the child exits first. */
  message<T>(type: string, timeoutMs?: number): Promise<T>;
  send(message: unknown): void;
  /** SIGTERM to its group, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<ChildExit>;
}

/** Every child the bench has started, running or not (their CPU is the bench's own). */
export const startedPids = new Set<number>();

/** The children of one scenario (or of the whole bench), stopped together. */
export class Scope {
  readonly #children = new Set<Child>();
  readonly logDir: string;
  #closed = false;

  constructor(logDir: string) {
    this.logDir = logDir;
  }

  /** `node ...flags <script> ...args` from the repository root, as a child of this scope. */
  node(
    name: string,
    script: string,
    opts: { args?: string[]; env?: NodeJS.ProcessEnv; ipc?: boolean; flags?: readonly string[] } = {},
  ): Child {
    // A scenario stopped by its timeout may still be running its code: it must not start anything.
    if (this.#closed) throw new Error(`not starting ${name}: the scenario was stopped`);
    const child = spawnChild(
      name,
      process.execPath,
      [...(opts.flags ?? []), script, ...(opts.args ?? [])],
      opts.env ?? process.env,
      join(this.logDir, `${name}.log`),
      opts.ipc ?? false,
    );
    this.#children.add(child);
    startedPids.add(child.pid);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  /** Stops every child and refuses to start new ones. */
  async close(graceMs?: number): Promise<void> {
    this.#closed = true;
    await this.stopAll(graceMs);
  }

  /** Stops every child still running, all at once. */
  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all([...this.#children].reverse().map((c) => c.stop(graceMs)));
  }

  killAll(): void {
    for (const c of this.#children) signalGroup(c.process, "SIGKILL");
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function spawnChild(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  ipc: boolean,
): Child {
  const proc = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe", ...(ipc ? (["ipc"] as const) : [])],
    detached: true,
  });
  const log = createWriteStream(logFile, { flags: "a" });
  const lineListeners = new Set<(line: string) => void>();
  for (const stream of [proc.stdout, proc.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
      log.write(`${line}\n`);
      for (const listener of lineListeners) listener(line);
    });
  }
  const watchdog = killWhenParentDies(proc.pid);
  const exited = new Promise<ChildExit>((resolve) => {
    proc.once("exit", (code, signal) => {
      watchdog.stop();
      resolve({ code, signal });
    });
    proc.once("error", (err) => {
      log.write(`could not start: ${err.message}\n`);
      watchdog.stop();
      resolve({ code: 127, signal: null });
    });
  });
  void exited.then(() => setTimeout(() => log.end(), 100));

  const died = (what: string) =>
    exited.then(({ code, signal }) => {
      throw new Error(
        `${name} ${signal ? `was killed by ${signal}` : `exited with code ${code}`} ${what}; see ${logFile}`,
      );
    });

  return {
    name,
    pid: proc.pid ?? -1,
    process: proc,
    logFile,
    exited,
    waitForLine(pattern, timeoutMs) {
      let listener: ((line: string) => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      const found = new Promise<string>((resolve, reject) => {
        listener = (line) => {
          if (pattern.test(line)) resolve(line);
        };
        lineListeners.add(listener);
        timer = setTimeout(
          () => reject(new Error(`${name} printed no line matching ${pattern} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return Promise.race([found, died(`before printing ${pattern}`)]).finally(() => {
        if (listener) lineListeners.delete(listener);
        clearTimeout(timer);
      });
    },
    message<T>(type: string, timeoutMs = 24 * 3600_000) {
      let handler: ((m: unknown) => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      const got = new Promise<T>((resolve, reject) => {
        handler = (m) => {
          if (typeof m === "object" && m !== null && (m as { type?: unknown }).type === type) resolve(m as T);
        };
        proc.on("message", handler);
        timer = setTimeout(
          () => reject(new Error(`${name} sent no "${type}" message within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return Promise.race([got, died(`before sending "${type}"`)]).finally(() => {
        if (handler) proc.off("message", handler);
        clearTimeout(timer);
      });
    },
    send(message) {
      if (proc.connected) proc.send(message as object);
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      signalGroup(proc, "SIGTERM");
      const timer = setTimeout(() => signalGroup(proc, "SIGKILL"), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Resident set size now and at its peak (VmRSS, VmHWM), in MiB, from /proc. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** CPU time (user + system) the process has used so far, in seconds. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; the fields after it are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** CPU seconds (user + system) and start time (seconds since boot) of every process now, by pid. */
function cpuByPid(): Map<number, { cpu: number; start: number }> {
  const out = new Map<number, { cpu: number; start: number }>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime and starttime, in clock ticks (USER_HZ = 100)
      out.set(pid, { cpu: (Number(fields[11]) + Number(fields[12])) / 100, start: Number(fields[19]) / 100 });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const uptimeS = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);

/** Pids whose command line contains `text` (NULs read as spaces), other than this process. */
export function pidsWithCommandLine(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").includes(text)) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Samples every process's CPU time every second and splits it into the bench's own (this process, its
 * children, its servers) and everybody else's: other work on the machine skews the figures, and the
 * report says how much there was. A process that ends between two samples loses its last second.
 */
export class CpuMonitor {
  readonly #own: () => Set<number>;
  #last = cpuByPid();
  readonly #since = uptimeS();
  #ownS = 0;
  #otherS = 0;
  /** The other processes' CPU seconds by a short name of their command. */
  readonly #others = new Map<string, number>();
  readonly #names = new Map<number, string>();
  readonly #started = Date.now();
  readonly #timer: NodeJS.Timeout;

  constructor(own: () => Set<number>) {
    this.#own = own;
    this.#timer = setInterval(() => this.#sample(), 1000);
    this.#timer.unref();
  }

  #sample(): void {
    const now = cpuByPid();
    const own = this.#own();
    for (const [pid, { cpu, start }] of now) {
      const before = this.#last.get(pid);
      // A process started since the monitor: all its time counts.
      const used = before && before.start === start ? cpu - before.cpu : start >= this.#since ? cpu : 0;
      if (own.has(pid)) this.#ownS += used;
      else if (used > 0) {
        this.#otherS += used;
        const name = this.#name(pid);
        this.#others.set(name, (this.#others.get(name) ?? 0) + used);
      }
    }
    this.#last = now;
  }

  /** e.g. "node vitest.mjs": the command and its script (or first argument), without folders. */
  #name(pid: number): string {
    let name = this.#names.get(pid);
    if (name === undefined) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
        const withValue = new Set(["--require", "-r", "--import", "--loader"]);
        const arg = argv.find((a, i) => i > 0 && !a.startsWith("-") && !withValue.has(argv[i - 1]!));
        const short = (a: string) =>
          a.includes("/apps/") ? a.slice(a.indexOf("/apps/") + 1) : a.split("/").pop()!;
        name = [argv[0], arg]
          .filter((a) => a !== undefined)
          .map((a) => short(a).slice(0, 40))
          .join(" ");
      } catch {
        name = "";
      }
      name ||= `pid ${pid}`;
      this.#names.set(pid, name);
    }
    return name;
  }

  /** Average use, in cores, since the monitor started; the other processes' biggest users by name. */
  stop(): { seconds: number; benchCores: number; otherCores: number; others: Record<string, number> } {
    clearInterval(this.#timer);
    this.#sample();
    const seconds = (Date.now() - this.#started) / 1000;
    const cores = (cpuSeconds: number) => Math.round((cpuSeconds / seconds) * 100) / 100;
    const others = [...this.#others]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .filter(([, cpu]) => cores(cpu) >= 0.01);
    return {
      seconds,
      benchCores: cores(this.#ownS),
      otherCores: cores(this.#otherS),
      others: Object.fromEntries(others.map(([name, cpu]) => [name, cores(cpu)])),
    };
  }
}
