import { execFileSync } from "node:child_process";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { ROOT } from "./paths.ts";

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1-minute load average when the bench started: above ~0.5 something else was using the CPU. */
  loadAtStart: number;
}

export function machine(loadAtStart: number): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${platform()} ${release()}`,
    loadAtStart,
  };
}

export const loadNow = () => Math.round(loadavg()[0]! * 100) / 100;

export interface CodeVersion {
  commit: string;
  /** Whether apps/ or packages/ differ from that commit (the figures are then of uncommitted code). */
  uncommittedChanges: boolean;
}

export function codeVersion(): CodeVersion {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    return {
      commit: git("rev-parse", "--short=12", "HEAD"),
      uncommittedChanges: git("status", "--porcelain", "--", "apps", "packages") !== "",
    };
  } catch {
    return { commit: "unknown", uncommittedChanges: false };
  }
}

/** `redis-server --version` and the like, first line; "unknown" when it cannot be run. */
export function versionOf(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      .split("\n")[0]!
      .trim();
  } catch {
    return "unknown";
  }
}
