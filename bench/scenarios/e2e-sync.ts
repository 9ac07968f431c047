/**
 * Target 1: N distinct sync chat completions at once through the official SDK; time to the first and
 * the last answer, against the floor (collation window + emulator batch duration). Each run gets a fresh
 * stack (a new database and queue prefix), so every run starts from an empty store.
 */
import { availableParallelism } from "node:os";
import { freshTag } from "../lib/bodies.ts";
import { CPU_NOTE, type CpuUse, cpuPerRequestRows, perRequestMicros, stackGroups } from "../lib/cpu.ts";
import { measuredBurst } from "../lib/load.ts";
import { BENCH_SETTINGS, startEcho, startStack } from "../lib/stack.ts";
import { figure, medianOf } from "../lib/stats.ts";
import { type BatchTimeline, batchTimeline, TIMELINE_NOTE, timelineRows } from "../lib/timeline.ts";
import type { Scenario } from "./types.ts";

export const e2eSync: Scenario = {
  name: "e2e-sync",
  title: "End to end: distinct sync calls at once",
  async run({ opts, services, scope, log }) {
    const n = opts.e2eCalls;
    const floorS = (BENCH_SETTINGS.windowMs + BENCH_SETTINGS.batchDurationMs) / 1000;
    const first: number[] = [];
    const last: number[] = [];
    const mid: number[] = [];
    const unanswered: number[] = [];
    const echoLast: number[] = [];
    const timelines: BatchTimeline[] = [];
    const cpu: Parameters<typeof cpuPerRequestRows>[0] = [];
    const echoCpu: CpuUse<"echo">[] = [];
    const gatewayS: number[] = [];
    const details: unknown[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      log(`run ${run}/${opts.runs}: ${n} calls at once on the bare Hono echo`);
      const echo = await startEcho(scope, `echo-${run}`);
      const { result: base, cpu: baseCpu } = await measuredBurst(
        { echo: [echo.server.pid] },
        scope,
        `burst-echo-${run}`,
        {
          baseURL: `${echo.url}/v1`,
          n,
          tag: freshTag("echo"),
          deadlineMs: 60_000,
          verify: false,
        },
      );
      await echo.server.stop();
      echoLast.push(base.lastMs / 1000);

      log(`run ${run}/${opts.runs}: ${n} calls at once through the gateway (fresh store)`);
      const stack = await startStack(scope, services);
      const { result, cpu: stackCpu } = await measuredBurst(
        stackGroups(stack, services),
        scope,
        `burst-${run}`,
        {
          baseURL: `${stack.gatewayUrl}/v1`,
          n,
          tag: freshTag("e2e"),
          deadlineMs: opts.e2eDeadlineS * 1000,
          verify: true,
        },
      );
      await stack.stop();
      timelines.push(await batchTimeline(stack.collator.logFile, stack.poller.logFile));
      log(
        `  answered ${result.answered}/${n}, first ${(result.firstMs / 1000).toFixed(2)} s, last ${(result.lastMs / 1000).toFixed(2)} s`,
      );
      first.push(result.firstMs / 1000);
      last.push(result.unanswered + result.failed > 0 ? Number.POSITIVE_INFINITY : result.lastMs / 1000);
      mid.push(result.p50Ms / 1000);
      unanswered.push(n - result.answered + result.wrong);
      gatewayS.push(stackCpu.gateway);
      cpu.push(perRequestMicros(stackCpu, result.answered));
      echoCpu.push(perRequestMicros(baseCpu, base.answered));
      details.push({ run, gateway: result, echo: base, cpuSeconds: { gateway: stackCpu, echo: baseCpu } });
    }
    const floor = figure("s", Array(opts.runs).fill(floorS));
    const lastFigure = figure("s", last);
    const bound = floorS + 3;
    return {
      params: {
        calls: n,
        windowMs: BENCH_SETTINGS.windowMs,
        emulatorBatchMs: BENCH_SETTINGS.batchDurationMs,
        firstPollMs: BENCH_SETTINGS.firstPollMs,
        maxPollIntervalS: BENCH_SETTINGS.maxPollIntervalS,
        deadlineS: opts.e2eDeadlineS,
      },
      rows: [
        {
          label: "time to first answer (s)",
          value: figure("s", first),
          baseline: { label: "floor", value: floor },
        },
        {
          label: "time to last answer (s)",
          value: lastFigure,
          baseline: { label: "floor", value: floor },
          target: {
            text: `all 3,000 answered within floor + 3 s (≤ ${bound.toFixed(1)} s)`,
            met: n >= 3000 ? lastFigure.median <= bound : null,
            ...(n < 3000 ? { note: `${n} calls here; the target is for 3,000` } : {}),
            why: `the same burst on the bare Hono echo took ${medianOf(echoLast, (v) => v, 2)} s to its last answer: the load generator (the official SDK, ${medianOf(echoCpu, (c) => c.load)} µs of CPU per call) and the connections alone take that much of the 3 s past the ${floorS.toFixed(1)} s floor, on the same ${availableParallelism()} cores. Through the gateway all processes spent ${medianOf(cpu, (c) => c.machine)} µs of CPU per call (the gateway ${medianOf(cpu, (c) => c.gateway)}, ${medianOf(gatewayS, (v) => v, 2)} s on its one thread, against the echo server's ${medianOf(echoCpu, (c) => c.echo)} µs). Would meet it: the load generator on cores of its own, and the gateway's CPU per sync call nearer the echo's (or intake spread over gateway processes on more cores: scale-out).`,
          },
        },
        { label: "median caller waited (s)", value: figure("s", mid) },
        {
          label: `calls not answered correctly within ${opts.e2eDeadlineS} s`,
          value: figure("calls", unanswered),
        },
        { label: "same burst on the bare Hono echo: last answer (s)", value: figure("s", echoLast) },
        ...timelineRows(timelines),
        {
          label: "the gateway's CPU over the run (s): one thread, so no sooner had it taken every call",
          value: figure("s", gatewayS),
        },
        ...cpuPerRequestRows(cpu, echoCpu),
      ],
      notes: [
        `floor = collation window ${BENCH_SETTINGS.windowMs} ms + emulator batch duration ${BENCH_SETTINGS.batchDurationMs} ms; first status check ${BENCH_SETTINGS.firstPollMs} ms after submission, then doubling up to ${BENCH_SETTINGS.maxPollIntervalS} s.`,
        "A run with calls unanswered at its deadline counts as ∞ for the time to the last answer.",
        TIMELINE_NOTE,
        `${CPU_NOTE} Here over the whole run, from the first call to the last answer, per call answered. A gateway is one process whose JavaScript runs on one thread: the last call is queued no sooner than its CPU time allows, and the floor's 1.9 s come after that.`,
      ],
      details,
    };
  },
};
