/**
 * Target 1: N distinct sync chat completions at once through the official SDK; time to the first and
 * the last answer, against the floor (collation window + emulator batch duration). Each run gets a fresh
 * stack (a new database and queue prefix), so every run starts from an empty store.
 */
import { readFile } from "node:fs/promises";
import { freshTag } from "../lib/bodies.ts";
import { burst } from "../lib/load.ts";
import { BENCH_SETTINGS, startEcho, startStack } from "../lib/stack.ts";
import { figure } from "../lib/stats.ts";
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
    const flushS: number[] = [];
    const lateS: number[] = [];
    const settleS: number[] = [];
    const batches: number[] = [];
    const details: unknown[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      log(`run ${run}/${opts.runs}: ${n} calls at once on the bare Hono echo`);
      const echo = await startEcho(scope, `echo-${run}`);
      const base = await burst(scope, `burst-echo-${run}`, {
        baseURL: `${echo.url}/v1`,
        n,
        tag: freshTag("echo"),
        deadlineMs: 60_000,
        verify: false,
      });
      await echo.server.stop();
      echoLast.push(base.lastMs / 1000);

      log(`run ${run}/${opts.runs}: ${n} calls at once through the gateway (fresh store)`);
      const stack = await startStack(scope, services);
      const result = await burst(scope, `burst-${run}`, {
        baseURL: `${stack.gatewayUrl}/v1`,
        n,
        tag: freshTag("e2e"),
        deadlineMs: opts.e2eDeadlineS * 1000,
        verify: true,
      });
      await stack.stop();
      const timeline = await batchTimeline(stack.collator.logFile, stack.poller.logFile);
      batches.push(timeline.batches);
      flushS.push(timeline.recordedToSubmittedS);
      lateS.push(timeline.seenLateS);
      settleS.push(timeline.seenToSettledS);
      log(
        `  answered ${result.answered}/${n}, first ${(result.firstMs / 1000).toFixed(2)} s, last ${(result.lastMs / 1000).toFixed(2)} s`,
      );
      first.push(result.firstMs / 1000);
      last.push(result.unanswered + result.failed > 0 ? Number.POSITIVE_INFINITY : result.lastMs / 1000);
      mid.push(result.p50Ms / 1000);
      unanswered.push(n - result.answered + result.wrong);
      details.push({ run, gateway: result, echo: base });
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
          },
        },
        { label: "median caller waited (s)", value: figure("s", mid) },
        {
          label: `calls not answered correctly within ${opts.e2eDeadlineS} s`,
          value: figure("calls", unanswered),
        },
        { label: "same burst on the bare Hono echo: last answer (s)", value: figure("s", echoLast) },
        { label: "timeline: batches", value: figure("batches", batches) },
        { label: "timeline: batch recorded → submitted, slowest batch (s)", value: figure("s", flushS) },
        {
          label: "timeline: submitted → seen complete, beyond the batch duration, latest batch (s)",
          value: figure("s", lateS),
        },
        { label: "timeline: seen complete → settled, slowest batch (s)", value: figure("s", settleS) },
      ],
      notes: [
        `floor = collation window ${BENCH_SETTINGS.windowMs} ms + emulator batch duration ${BENCH_SETTINGS.batchDurationMs} ms; first status check ${BENCH_SETTINGS.firstPollMs} ms after submission, then doubling up to ${BENCH_SETTINGS.maxPollIntervalS} s.`,
        "A run with calls unanswered at its deadline counts as ∞ for the time to the last answer.",
        "Timeline figures come from the collator's and poller's logs of each run (their clocks, one machine): a batch is recorded once its jobs are completed, submitted once created at the emulator, seen complete at the poller's first check that finds it so.",
      ],
      details,
    };
  },
};

/**
 * Where a run's time went after collation, from the apps' own log lines (info level): how long each
 * batch took from recorded to submitted, how long after the emulator's batch duration the poller saw it
 * complete, and how long it then took to settle. The slowest batch of each run is the figure.
 */
async function batchTimeline(collatorLog: string, pollerLog: string) {
  const at = new Map<string, { recorded?: number; submitted?: number; seen?: number; settled?: number }>();
  const mark = (recordId: unknown, step: "recorded" | "submitted" | "seen" | "settled", time: number) => {
    if (typeof recordId !== "string") return;
    const entry = at.get(recordId) ?? {};
    entry[step] ??= time;
    at.set(recordId, entry);
  };
  for (const file of [collatorLog, pollerLog]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n")) {
      if (!line.startsWith("{")) continue;
      let entry: { time?: number; msg?: string; recordId?: unknown; status?: unknown };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      const time = entry.time;
      if (typeof time !== "number") continue;
      if (entry.msg === "batch recorded") mark(entry.recordId, "recorded", time);
      else if (entry.msg === "batch submitted") mark(entry.recordId, "submitted", time);
      else if (entry.msg === "batch status changed" && entry.status === "completed")
        mark(entry.recordId, "seen", time);
      else if (entry.msg === "batch settled") mark(entry.recordId, "settled", time);
    }
  }
  const slowest = (spans: (number | undefined)[]) => {
    const known = spans.filter((v): v is number => v !== undefined);
    return known.length ? Math.max(...known) / 1000 : Number.NaN;
  };
  const entries = [...at.values()];
  const span = (a?: number, b?: number) => (a !== undefined && b !== undefined ? b - a : undefined);
  return {
    batches: entries.filter((e) => e.submitted !== undefined).length,
    recordedToSubmittedS: slowest(entries.map((e) => span(e.recorded, e.submitted))),
    seenLateS: slowest(
      entries.map((e) => {
        const waited = span(e.submitted, e.seen);
        return waited === undefined ? undefined : waited - BENCH_SETTINGS.batchDurationMs;
      }),
    ),
    seenToSettledS: slowest(entries.map((e) => span(e.seen, e.settled))),
  };
}
