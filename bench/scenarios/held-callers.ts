/**
 * Target 5: C concurrent sync callers held on one gateway process (the collation window is made so long
 * that nobody is answered), and the gateway's resident memory idle and at its peak, read from
 * /proc/<pid>/status (VmRSS, VmHWM). Baseline: the bare Hono server holding C open requests. Each run
 * starts both servers afresh, so each peak is that run's own.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CHAT_PATH, freshTag } from "../lib/bodies.ts";
import { hold } from "../lib/load.ts";
import { cpuSecondsOf, memoryOf } from "../lib/procs.ts";
import { startEcho, startStack } from "../lib/stack.ts";
import { figure, medianOf, megabytesInMiB, underMegabytes } from "../lib/stats.ts";
import type { Scenario } from "./types.ts";

/** Held callers wait at least this long on the gateway: one re-check of them all (WAITER_RECHECK_MS = 30 s by default). */
const MIN_HOLD_FULL_S = 35;
const WINDOW_MS = 600_000;

/**
 * Waits until the processes together have been idle (under 10% of a core) for two seconds in a row and
 * `extra()` holds, or `maxS` passed; returns how long it took.
 */
async function settle(pids: number[], maxS: number, extra: () => Promise<boolean> = async () => true) {
  const start = Date.now();
  let quiet = 0;
  const used = () => pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  let before = used();
  while (Date.now() - start < maxS * 1000) {
    await sleep(1000);
    const now = used();
    quiet = now - before < 0.1 ? quiet + 1 : 0;
    before = now;
    if (quiet >= 2 && (await extra())) return { seconds: (Date.now() - start) / 1000, settled: true };
  }
  return { seconds: (Date.now() - start) / 1000, settled: false };
}

export const heldCallers: Scenario = {
  name: "held-callers",
  title: "Held sync callers on one gateway",
  async run({ opts, services, scope, log }) {
    const c = opts.held;
    const minHoldS = opts.quick ? 0 : MIN_HOLD_FULL_S;
    const peak: number[] = [];
    const idle: number[] = [];
    const perCaller: number[] = [];
    const echoPeak: number[] = [];
    const echoIdle: number[] = [];
    const echoPerCaller: number[] = [];
    const notHeld: number[] = [];
    const details: unknown[] = [];
    // 4,000 connections a second at most: faster, a busy server's listen backlog (511) overflows, and the
    // connections it drops fail some 30 s later instead of being held.
    const step = { step: 100, stepMs: 25 };
    for (let run = 1; run <= opts.runs; run++) {
      log(`run ${run}/${opts.runs}: bare Hono server holding ${c} requests`);
      const echo = await startEcho(scope, `echo-${run}`);
      await sleep(1000);
      const echoBefore = memoryOf(echo.server.pid);
      const echoHold = hold(
        scope,
        `hold-echo-${run}`,
        { url: `${echo.url}/hold${CHAT_PATH}`, n: c, tag: freshTag("hold"), ...step },
        opts.heldSettleS * 1000,
      );
      await echoHold.sent;
      const heldOnEcho = async () =>
        ((await (await fetch(`${echo.url}/stats`)).json()) as { held: number }).held >= c;
      const echoSettle = await settle([echo.server.pid], opts.heldSettleS, heldOnEcho);
      const echoAfter = memoryOf(echo.server.pid);
      await echoHold.release();
      await echo.server.stop();
      echoIdle.push(echoBefore.rssMiB);
      echoPeak.push(echoAfter.peakMiB);
      echoPerCaller.push(((echoAfter.peakMiB - echoBefore.rssMiB) * 1024) / c);
      log(`  idle ${echoBefore.rssMiB.toFixed(0)} MiB, peak ${echoAfter.peakMiB.toFixed(0)} MiB`);

      log(
        `run ${run}/${opts.runs}: gateway holding ${c} sync callers (collation window ${WINDOW_MS / 1000} s)`,
      );
      const stack = await startStack(scope, services, {
        env: { COLLATE_BATCHES_FOR_DURATION_IN_MS: String(WINDOW_MS) },
      });
      await sleep(1000);
      const before = memoryOf(stack.gateway.pid);
      const started = Date.now();
      const holder = hold(
        scope,
        `hold-${run}`,
        { url: `${stack.gatewayUrl}${CHAT_PATH}`, n: c, tag: freshTag("held"), ...step },
        opts.heldSettleS * 1000,
      );
      const sent = await holder.sent;
      // Settled once the gateway, collator, poller and servers are all idle.
      const pids = [...stack.apps.map((a) => a.pid), ...services.serverPids];
      const settled = await settle(pids, opts.heldSettleS);
      const rest = minHoldS * 1000 - (Date.now() - started);
      if (rest > 0) await sleep(rest);
      const after = memoryOf(stack.gateway.pid);
      const final = await holder.release();
      await stack.stop();
      idle.push(before.rssMiB);
      peak.push(after.peakMiB);
      const lost = final.answered + final.errors;
      perCaller.push(((after.peakMiB - before.rssMiB) * 1024) / Math.max(1, c - lost));
      notHeld.push(lost);
      log(
        `  idle ${before.rssMiB.toFixed(0)} MiB, peak ${after.peakMiB.toFixed(0)} MiB, now ${after.rssMiB.toFixed(0)} MiB; settled in ${settled.seconds.toFixed(0)} s${settled.settled ? "" : " (still busy)"}`,
      );
      details.push({
        run,
        gateway: { idle: before, after, sent, final, settle: settled, heldS: (Date.now() - started) / 1000 },
        echo: { idle: echoBefore, after: echoAfter, settle: echoSettle },
      });
    }
    const peakFigure = figure("MiB", peak);
    return {
      params: { callers: c, collationWindowMs: WINDOW_MS, minimumHoldS: minHoldS },
      rows: [
        {
          label: `peak RSS holding ${c.toLocaleString("en-US")} callers (MiB)`,
          value: peakFigure,
          baseline: { label: "bare Hono", value: figure("MiB", echoPeak) },
          target: {
            text: `10,000 callers under 300 MB (${megabytesInMiB(300)} MiB)`,
            met: c >= 10_000 ? underMegabytes(peakFigure.median, 300) : null,
            ...(c < 10_000 ? { note: `${c} callers here; the target is for 10,000` } : {}),
            why: `the bare Hono server holding the same ${c.toLocaleString("en-US")} requests peaked at ${medianOf(echoPeak, (v) => v)} MiB here, with the gateway's Node settings, which leaves ${medianOf(echoPeak, (v) => Number(megabytesInMiB(300)) - v)} MiB under the bound for all that is ours; the gateway idles ${medianOf(
              idle.map((v, i) => v - echoIdle[i]!),
              (v) => v,
            )} MiB above it (its libraries' modules: DEVELOPERS.md, "Idle memory is modules") and holds ${medianOf(
              perCaller.map((v, i) => v - echoPerCaller[i]!),
              (v) => v,
              1,
            )} KiB more per caller. Would meet it: a bound about 100 MB over the bare server, as the target meant it (it measured the bare server at 202 MB), or a gateway without most of those libraries.`,
          },
        },
        {
          label: "idle RSS (MiB)",
          value: figure("MiB", idle),
          baseline: { label: "bare Hono", value: figure("MiB", echoIdle) },
        },
        {
          label: "per held caller, (peak − idle) / callers held (KiB)",
          value: figure("KiB", perCaller),
          baseline: { label: "bare Hono", value: figure("KiB", echoPerCaller) },
        },
        { label: "callers answered or failed while they should be held", value: figure("calls", notHeld) },
      ],
      notes: [
        "RSS from /proc/<pid>/status: idle = VmRSS after start, peak = VmHWM; MiB = 2^20 bytes.",
        `The gateway holds its callers until it, the collator, the poller and the servers are idle (under 10% of a core together for 2 s)${minHoldS ? ` and at least ${minHoldS} s, so one re-check of the held callers (WAITER_RECHECK_MS, default 30 s) falls inside` : ""}.`,
      ],
      details,
    };
  },
};
