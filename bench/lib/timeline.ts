/**
 * Where a burst's time went inside the stack, from the apps' own log lines (info level): per batch, when
 * the collator began its flush, recorded the batch (jobs completed) and submitted it, and when the poller
 * saw it complete and settled it. The slowest batch of each run is the figure.
 */
import { readFile } from "node:fs/promises";
import type { Row } from "../scenarios/types.ts";
import { parseLogLine } from "./data.ts";
import { BENCH_SETTINGS } from "./stack.ts";
import { figure } from "./stats.ts";

/** One run's timeline (seconds, the slowest batch of the run; NaN when no batch had both ends). */
export interface BatchTimeline {
  batches: number;
  flushingToRecordedS: number;
  recordedToSubmittedS: number;
  /** Submitted → seen complete, less the emulator's batch duration. */
  seenLateS: number;
  seenToSettledS: number;
}

type Step = "flushing" | "recorded" | "submitted" | "seen" | "settled";

/** Reads a run's timeline from its collator's and poller's log files. */
export async function batchTimeline(collatorLog: string, pollerLog: string): Promise<BatchTimeline> {
  const at = new Map<string, Partial<Record<Step, number>>>();
  const mark = (recordId: unknown, step: Step, time: number) => {
    if (typeof recordId !== "string") return;
    const entry = at.get(recordId) ?? {};
    entry[step] ??= time;
    at.set(recordId, entry);
  };
  for (const file of [collatorLog, pollerLog]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n")) {
      const entry = parseLogLine(line);
      if (!entry) continue;
      const time = entry.time;
      if (entry.msg === "batch flushing") mark(entry.recordId, "flushing", time);
      else if (entry.msg === "batch recorded") mark(entry.recordId, "recorded", time);
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
    flushingToRecordedS: slowest(entries.map((e) => span(e.flushing, e.recorded))),
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

/** The timeline's figures, in the results table's words. */
const TIMELINE_ROWS: { key: keyof BatchTimeline; label: string; unit: string }[] = [
  { key: "batches", label: "timeline: batches", unit: "batches" },
  { key: "flushingToRecordedS", label: "timeline: batch flushing → recorded, slowest batch (s)", unit: "s" },
  {
    key: "recordedToSubmittedS",
    label: "timeline: batch recorded → submitted, slowest batch (s)",
    unit: "s",
  },
  {
    key: "seenLateS",
    label: "timeline: submitted → seen complete, beyond the batch duration, latest batch (s)",
    unit: "s",
  },
  { key: "seenToSettledS", label: "timeline: seen complete → settled, slowest batch (s)", unit: "s" },
];

/**
 * Rows of the timelines of several runs; `baseline` (same runs, same order) is shown beside each row.
 * `flushing`: include the flushing → recorded step.
 */
export function timelineRows(
  runs: BatchTimeline[],
  opts: { flushing?: boolean; baseline?: { label: string; runs: BatchTimeline[] } } = {},
): Row[] {
  return TIMELINE_ROWS.filter(({ key }) => opts.flushing || key !== "flushingToRecordedS").map(
    ({ key, label, unit }) => ({
      label,
      value: figure(
        unit,
        runs.map((r) => r[key]),
      ),
      ...(opts.baseline
        ? {
            baseline: {
              label: opts.baseline.label,
              value: figure(
                unit,
                opts.baseline.runs.map((r) => r[key]),
              ),
            },
          }
        : {}),
    }),
  );
}

export const TIMELINE_NOTE =
  "Timeline figures come from the collator's and poller's logs of each run (their clocks, one machine): a batch is recorded once its jobs are completed, submitted once created at the emulator, seen complete at the poller's first check that finds it so.";
