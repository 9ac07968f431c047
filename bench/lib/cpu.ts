/**
 * Who spent the CPU during a load: seconds of each group of processes (from /proc), of the whole
 * machine, of the load generator (as it reports them) and the rest (the machine less all of those).
 * On this machine every process shares the same cores, so a throughput figure is bounded by the CPU
 * each request costs all of them together: these figures are the measured reason behind a ratio.
 */
import { readFileSync } from "node:fs";
import type { Row } from "../scenarios/types.ts";
import { cpuSecondsOf } from "./procs.ts";
import { figure } from "./stats.ts";

/** CPU seconds the whole machine has been busy (every core; /proc/stat's first line, USER_HZ = 100). */
export function machineBusySeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** CPU seconds by group, the whole machine's, the load generator's (as it reports them) and the rest. */
export type CpuUse<K extends string> = Record<K | "machine" | "load" | "rest", number>;

interface Snapshot<K extends string> {
  at: number;
  machine: number;
  byGroup: Record<K, number>;
}

/** CPU seconds so far of each group of pids and of the machine, now. Throws if a pid is gone. */
function snapshot<K extends string>(groups: Record<K, number[]>): Snapshot<K> {
  const byGroup = Object.fromEntries(
    Object.entries<number[]>(groups).map(([k, pids]) => [
      k,
      pids.reduce((t, pid) => t + cpuSecondsOf(pid), 0),
    ]),
  ) as Record<K, number>;
  return { at: Date.now(), machine: machineBusySeconds(), byGroup };
}

/**
 * What each group used between two snapshots, the machine's, `load` (reported apart) and the rest
 * (the machine less all of them), each divided by `per` (1 for seconds, the window's seconds for cores).
 */
function between<K extends string>(a: Snapshot<K>, b: Snapshot<K>, load: number, per: number): CpuUse<K> {
  const out = { machine: (b.machine - a.machine) / per, load: load / per, rest: 0 } as CpuUse<K>;
  let named = out.load;
  for (const k of Object.keys(a.byGroup) as K[]) {
    out[k] = (b.byGroup[k] - a.byGroup[k]) / per;
    named += out[k];
  }
  out.rest = Math.max(0, out.machine - named);
  return out;
}

/**
 * CPU seconds used during `work` by each group of pids (each must live through it), the machine, the
 * load generator (`cpuS` in `work`'s result, when it reports it) and the rest; and the wall seconds.
 * The window opens when `work` calls `began` (a load generator, once started up), else at once.
 */
export async function cpuDuring<K extends string, T extends { cpuS?: number }>(
  groups: Record<K, number[]>,
  work: (began: () => void) => Promise<T>,
): Promise<{ result: T; seconds: number; cpu: CpuUse<K> }> {
  let before = snapshot(groups);
  const result = await work(() => {
    before = snapshot(groups);
  });
  const after = snapshot(groups);
  return { result, seconds: (after.at - before.at) / 1000, cpu: between(before, after, result.cpuS ?? 0, 1) };
}

/** Microseconds of CPU per request, group by group. */
export function perRequestMicros<K extends string>(cpu: CpuUse<K>, requests: number): CpuUse<K> {
  return Object.fromEntries(
    Object.entries<number>(cpu).map(([k, s]) => [k, requests > 0 ? (s * 1e6) / requests : Number.NaN]),
  ) as CpuUse<K>;
}

/** The stack's processes and the servers, as the CPU rows group them. */
export function stackGroups(
  stack: {
    gateways: { pid: number }[];
    collator: { pid: number };
    poller: { pid: number };
    emulator: { pid: number };
  },
  services: { redisPids: number[]; mongoPids: number[] },
) {
  return {
    gateway: stack.gateways.map((g) => g.pid),
    collator: [stack.collator.pid],
    poller: [stack.poller.pid],
    emulator: [stack.emulator.pid],
    redis: services.redisPids,
    mongo: services.mongoPids,
  };
}

/** Who the CPU rows name, in their order. */
const WHO: [string, keyof StackCpu][] = [
  ["all processes (the machine)", "machine"],
  ["the gateway", "gateway"],
  ["Redis", "redis"],
  ["the MongoDB-compatible server", "mongo"],
  ["the collator", "collator"],
  ["the poller", "poller"],
  ["the OpenAI emulator", "emulator"],
  ["the load generator", "load"],
  ["the rest (the bench, other processes)", "rest"],
];

type StackCpu = CpuUse<keyof ReturnType<typeof stackGroups>>;

/**
 * Rows of CPU microseconds per answered request, by process, for the stack's runs against the echo's
 * runs; then what the target's ratio allows all processes together: with every core busy, requests/s
 * is about cores / (CPU per request), so `ratio` × the echo's rate needs CPU per request ≤ the echo's /
 * `ratio`.
 */
export function cpuPerRequestRows(ours: StackCpu[], echo: CpuUse<"echo">[], targetRatio?: number): Row[] {
  const us = (runs: number[]) => figure("µs", runs);
  const echoSide: Partial<Record<keyof StackCpu, [keyof CpuUse<"echo">, string]>> = {
    machine: ["machine", "Hono echo"],
    gateway: ["echo", "the echo server"],
    load: ["load", "the load generator, on the echo"],
    rest: ["rest", "the rest, with the echo"],
  };
  const rows: Row[] = WHO.map(([who, key]) => {
    const side = echoSide[key];
    return {
      label: `CPU per request during the load (µs): ${who}`,
      value: us(ours.map((c) => c[key])),
      ...(side ? { baseline: { label: side[1], value: us(echo.map((c) => c[side[0]])) } } : {}),
    };
  });
  if (targetRatio) {
    rows.push({
      label: `CPU per request all processes may spend for ${targetRatio} × the echo (µs)`,
      value: us(echo.map((c) => c.machine / targetRatio)),
    });
  }
  return rows;
}

/** CPU per request by process on the seeded store, against the same on the empty store. */
export function cpuPerStoreRows(seeded: StackCpu[], empty: StackCpu[]): Row[] {
  return WHO.map(([who, key]) => ({
    label: `CPU per call over the burst (µs): ${who}`,
    value: figure(
      "µs",
      seeded.map((c) => c[key]),
    ),
    baseline: {
      label: "empty store",
      value: figure(
        "µs",
        empty.map((c) => c[key]),
      ),
    },
  }));
}

/** What the CPU rows mean, for a scenario's notes. */
export const CPU_NOTE =
  "CPU per request: each process's CPU seconds over the load (/proc), divided by the requests answered 2xx. Every process here shares the same cores, so with the machine busy the rate is about cores / CPU per request of all processes: the ratio to the echo is, near enough, the echo's CPU per request over ours, and the last row is what ours may be for the target. The load generator reports its own CPU; the rest is the machine's busy time less the named processes'. Measured from when the load generator begins its load, once it has started up.";

/**
 * Samples the CPU time of groups of processes (and the machine's) every `intervalMs`, for windows known
 * only afterwards, from the apps' log lines: `coresBetween` reads the cores each used between two
 * moments (epoch ms), from the samples nearest inside them. Stop it before the processes go.
 */
export class CpuSampler<K extends string> {
  readonly #groups: Record<K, number[]>;
  readonly #samples: Snapshot<K>[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(groups: Record<K, number[]>, intervalMs = 100) {
    this.#groups = groups;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    try {
      this.#samples.push(snapshot(this.#groups));
    } catch {
      // A process is gone: no sample this time.
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  /** Cores used by each group, the machine and the rest between `from` and `to`; NaN if not sampled. */
  coresBetween(from: number, to: number): Record<K | "machine" | "rest", number> {
    const a = this.#samples.find((s) => s.at >= from);
    const b = this.#samples.findLast((s) => s.at <= to);
    if (!a || !b || b.at - a.at < 200) {
      const keys = [...Object.keys(this.#groups), "machine", "rest"];
      return Object.fromEntries(keys.map((k) => [k, Number.NaN])) as Record<K | "machine" | "rest", number>;
    }
    const cores: Partial<CpuUse<K>> = between(a, b, 0, (b.at - a.at) / 1000);
    // No load generator reports here: a "load" row only when one is among the groups.
    if (!("load" in this.#groups)) delete cores.load;
    return cores as Record<K | "machine" | "rest", number>;
  }
}

/** Rows of the cores each process used over a window, run by run. */
export function coresRows(window: string, runs: Record<string, number>[]): Row[] {
  return WHO.filter(([, key]) => runs.some((r) => key in r)).map(([name, key]) => ({
    label: `cores used, ${window}: ${name}`,
    value: figure(
      "cores",
      runs.map((r) => r[key] ?? Number.NaN),
    ),
  }));
}

/** What the cores rows mean, for a scenario's notes. */
export const CORES_NOTE =
  "Cores used: each process's CPU time from /proc, sampled every 100 ms through the run and read between the window's two moments (the samples nearest inside them), divided by its length; the machine's from /proc/stat, the rest being the machine's less the named processes'. With the machine's row near its core count, the step waited on CPU the processes shared.";
