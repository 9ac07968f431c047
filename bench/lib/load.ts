import type { BurstJob, BurstResult } from "../children/burst.ts";
import type { CallersJob, CallersResult } from "../children/callers.ts";
import type { CannonJob, CannonResult } from "../children/cannon.ts";
import type { HoldJob, HoldReport } from "../children/hold.ts";
import { CHAT_PATH } from "./bodies.ts";
import { type CpuUse, cpuDuring } from "./cpu.ts";
import { child } from "./paths.ts";
import type { Child, Scope } from "./procs.ts";

/**
 * Runs a load child to its end and returns its result; it is stopped if it takes longer than `timeoutMs`.
 * `onStarted` is called when it begins its load (once started up).
 */
async function runToResult<T>(
  scope: Scope,
  name: string,
  script: string,
  job: unknown,
  timeoutMs: number,
  onStarted?: () => void,
) {
  const load = scope.node(name, child(script), { args: [JSON.stringify(job)], ipc: true });
  if (onStarted) load.message("started", timeoutMs).then(onStarted, () => {});
  try {
    return await load.message<T>("result", timeoutMs);
  } finally {
    await load.stop(2000);
  }
}

export const cannon = (
  scope: Scope,
  name: string,
  job: CannonJob,
  timeoutMs: number,
  onStarted?: () => void,
) => runToResult<CannonResult>(scope, name, "cannon", job, timeoutMs, onStarted);

/** `cannon`, with the CPU of `groups` (and the load generator's own) measured over its load. */
export const measuredCannon = <K extends string>(
  groups: Record<K, number[]>,
  scope: Scope,
  name: string,
  job: CannonJob,
  timeoutMs: number,
): Promise<{ result: CannonResult; cpu: CpuUse<K> }> =>
  cpuDuring(groups, (began) => cannon(scope, name, job, timeoutMs, began));

export const burst = (scope: Scope, name: string, job: BurstJob, onStarted?: () => void) =>
  runToResult<BurstResult>(scope, name, "burst", job, job.deadlineMs + 30_000, onStarted);

/**
 * The bare Hono echo (`startEcho`) under `durationS` of `cannon` load, its CPU measured: the baseline of
 * a throughput target, run beside the system's own load in the same run.
 */
export const echoCannon = (
  scope: Scope,
  echo: { url: string; server: Child },
  run: number,
  load: Pick<CannonJob, "connections" | "bodies"> & { durationS: number },
): Promise<{ result: CannonResult; cpu: CpuUse<"echo"> }> =>
  measuredCannon(
    { echo: [echo.server.pid] },
    scope,
    `cannon-echo-${run}`,
    { url: `${echo.url}${CHAT_PATH}`, timeoutS: 30, ...load },
    load.durationS * 1000 + 60_000,
  );

/** `burst`, with the CPU of `groups` (and the load generator's own) measured over its load. */
export const measuredBurst = <K extends string>(
  groups: Record<K, number[]>,
  scope: Scope,
  name: string,
  job: BurstJob,
): Promise<{ result: BurstResult; cpu: CpuUse<K> }> =>
  cpuDuring(groups, (began) => burst(scope, name, job, began));

export interface Holder {
  child: Child;
  /** Resolves once every request is written. */
  sent: Promise<HoldReport>;
  /** Closes every request; returns the final report. */
  release(): Promise<HoldReport>;
}

export function hold(scope: Scope, name: string, job: HoldJob, timeoutMs: number): Holder {
  const load = scope.node(name, child("hold"), { args: [JSON.stringify(job)], ipc: true });
  return {
    child: load,
    sent: load.message<HoldReport>("sent", timeoutMs),
    async release() {
      const result = load.message<HoldReport>("result", 30_000);
      load.send({ type: "release" });
      try {
        return await result;
      } finally {
        await load.stop(2000);
      }
    },
  };
}

/** Sync callers opened in steps and held until answered; `result` resolves once all are answered or failed. */
export function callers(scope: Scope, name: string, job: CallersJob) {
  const load = scope.node(name, child("callers"), { args: [JSON.stringify(job)], ipc: true });
  const timeoutMs = job.deadlineMs + 30_000;
  const sent = load.message<CallersResult>("sent", timeoutMs);
  const result = load.message<CallersResult>("result", timeoutMs).finally(() => load.stop(2000));
  // Either may go unawaited when the other fails first.
  sent.catch(() => {});
  result.catch(() => {});
  return { child: load, sent, result };
}
