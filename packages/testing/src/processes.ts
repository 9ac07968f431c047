import { readdirSync, readFileSync } from "node:fs";

export interface ProcInfo {
  ppid: number;
  state: string;
  cmdline: string;
}

/** Every live process: parent pid, state and command line, from /proc. */
export function processTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state = "", ppid = "0"] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      table.set(Number(entry), { ppid: Number(ppid), state, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return table;
}

/** Every descendant of `root` (children, their children, …) with its command line. */
export function descendants(root: number): Map<number, string> {
  const table = processTable();
  const found = new Map<number, string>();
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const [child, info] of table) {
      if (info.ppid === pid && !found.has(child)) {
        found.set(child, info.cmdline);
        queue.push(child);
      }
    }
  }
  return found;
}

/** Whether `pid` runs (a zombie does not). */
export function isAlive(pid: number): boolean {
  const info = processTable().get(pid);
  return info !== undefined && info.state !== "Z";
}
