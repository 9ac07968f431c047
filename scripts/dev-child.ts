/**
 * One app of the dev stack as a child process: its output lines prefixed with its name (pino's JSON made
 * readable), its exit observable, and a watchdog that stops it if `dev` itself dies, even by SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { styleText } from "node:util";
import { killWhenParentDies } from "@batch-gpt/local-services";

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppChild {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ChildExit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<ChildExit>;
}

type Color = Parameters<typeof styleText>[0];
const COLORS: Record<string, Color> = {
  dev: "bold",
  emulator: "magenta",
  gateway: "cyan",
  collator: "yellow",
  poller: "green",
};
const LABEL_WIDTH = 8;

/** `name | text`, the name padded and coloured when the stream is a terminal. */
export function prefixed(name: string, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  const label = styleText(COLORS[name] ?? "white", name.padEnd(LABEL_WIDTH), { stream });
  return `${label} | ${text}`;
}

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
const PINO_HOUSEKEEPING = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);

/** A pino JSON line as `HH:MM:SS LEVEL message {other fields}`; any other line unchanged. */
export function readableLogLine(line: string): string {
  if (!line.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.level !== "number" || typeof entry.time !== "number") return line;
  const time = new Date(entry.time).toTimeString().slice(0, 8);
  const level = LEVELS[entry.level] ?? String(entry.level);
  const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !PINO_HOUSEKEEPING.has(k)));
  const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
  return `${time} ${level} ${String(entry.msg ?? "")}${fields}`;
}

export function spawnAppChild(name: string, script: string, env: NodeJS.ProcessEnv, cwd: string): AppChild {
  // Its own process group, so a terminal's Ctrl-C reaches only `dev`, which stops the apps in order.
  const child = spawn(process.execPath, [script], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const relay = (from: NodeJS.ReadableStream | null, to: NodeJS.WriteStream) => {
    if (!from) return;
    createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
      to.write(`${prefixed(name, readableLogLine(line), to)}\n`);
    });
  };
  relay(child.stdout, process.stdout);
  relay(child.stderr, process.stderr);

  const watchdog = killWhenParentDies(child.pid);
  const stopWatchdog = () => watchdog.stop();

  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (code, signal) => {
      stopWatchdog();
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      process.stderr.write(`${prefixed(name, `could not start: ${err.message}`, process.stderr)}\n`);
      stopWatchdog();
      resolve({ code: 127, signal: null });
    });
  });

  return {
    name,
    child,
    exited,
    async stop(graceMs = 25_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => {
          process.stderr.write(`${prefixed("dev", `${name} did not stop in ${graceMs} ms; killing it`)}\n`);
          child.kill("SIGKILL");
        }, graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** "exited with code 1" / "was killed by SIGKILL". */
export function describeExit({ code, signal }: ChildExit): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}
