/**
 * One app of the dev stack as a child process: its output lines prefixed with its name (pino's JSON made
 * readable), its exit observable, and a watchdog that stops it if `dev` itself dies, even by SIGKILL.
 */
import { styleText } from "node:util";
import { type AppProcess, type ChildExit, spawnNodeApp } from "@batch-gpt/local-services";

export { type ChildExit, describeExit } from "@batch-gpt/local-services";

export interface AppChild extends Omit<AppProcess, "stop"> {
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
  const app = spawnNodeApp({
    name,
    script,
    env,
    cwd,
    onLine(line, stream) {
      const to = stream === "stdout" ? process.stdout : process.stderr;
      to.write(`${prefixed(name, readableLogLine(line), to)}\n`);
    },
    onKill() {
      process.stderr.write(`${prefixed("dev", `${name} did not stop in time; killing it`)}\n`);
    },
  });
  return { ...app, stop: (graceMs = 25_000) => app.stop({ graceMs }) };
}
