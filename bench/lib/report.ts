import type { Row, ScenarioOutcome } from "../scenarios/types.ts";
import type { CodeVersion, Machine } from "./machine.ts";
import type { Options } from "./options.ts";
import type { Figure } from "./stats.ts";

export interface ScenarioReport extends Partial<ScenarioOutcome> {
  name: string;
  title: string;
  status: "ok" | "failed" | "timeout";
  error?: string;
  seconds: number;
  /** Average CPU use during the scenario, in cores: the bench's processes, and every other process. */
  cpu: { benchCores: number; otherCores: number; others: Record<string, number> };
}

export interface Report {
  date: string;
  command: string;
  mode: "full" | "quick";
  runs: number;
  seconds: number;
  machine: Machine;
  code: CodeVersion;
  servers: { redis: string; mongo: string };
  options: Options;
  scenarios: ScenarioReport[];
}

const DIGITS: Record<string, number> = {
  "req/s": 0,
  "lines/s": 0,
  "jobs/s": 0,
  "documents/s": 0,
  "records/s": 0,
  records: 0,
  s: 2,
  ms: 1,
  MiB: 0,
  KiB: 1,
  "×": 3,
  "%": 1,
  calls: 0,
  lines: 0,
  batches: 0,
  cores: 2,
  µs: 0,
};

export function format(value: number, unit: string): string {
  if (Number.isNaN(value)) return "—";
  if (value === Number.POSITIVE_INFINITY) return "∞";
  const digits = DIGITS[unit] ?? 2;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const spread = (f: Figure) =>
  f.runs.length <= 1 || f.min === f.max
    ? format(f.median, f.unit)
    : `${format(f.min, f.unit)} – ${format(f.max, f.unit)}`;

function baselineCell(row: Row): string {
  if (!row.baseline) return "";
  const { label, value } = row.baseline;
  const range = value.min === value.max ? "" : ` (${spread(value)})`;
  return `${label}: ${format(value.median, value.unit)}${range}`;
}

function metCell(row: Row): string {
  if (!row.target) return "";
  const { met, note } = row.target;
  const word =
    met === true ? "**met**" : met === false ? "**not met**" : row.target.reported ? "reported" : "n/a";
  return note ? `${word} (${note})` : word;
}

function othersText(others: Record<string, number>): string {
  const list = Object.entries(others).map(([name, cores]) => `\`${name}\` ${cores}`);
  return list.length ? ` (most: ${list.join(", ")})` : "";
}

function otherCpu(report: Report): string {
  const values = report.scenarios.map((s) => s.cpu.otherCores);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return lo === hi ? `${lo}` : `${lo} – ${hi}`;
}

const cell = (text: string) => text.replaceAll("|", "\\|");

export function markdown(report: Report): string {
  const { machine: m, code } = report;
  const out: string[] = [];
  out.push("# Benchmark results", "");
  out.push(
    `\`${report.command}\`, ${report.date.slice(0, 16).replace("T", " ")} UTC: ${report.mode} mode, ${report.runs} run${report.runs === 1 ? "" : "s"} per scenario, ${Math.round(report.seconds)} s in all.`,
    "",
    `- Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB memory, Node ${m.node}, ${m.os}.`,
    "- Load generators, the system under test and the baselines share these cores.",
    `- Code: commit \`${code.commit}\`${code.uncommittedChanges ? ", with uncommitted changes in apps/ or packages/" : ""}.`,
    `- Servers (loopback): ${report.servers.redis}; ${report.servers.mongo}; the OpenAI emulator.`,
    `- Other processes on the machine used ${otherCpu(report)} of a core on average during the scenarios (each scenario's figure is under its heading).`,
    "- Each figure is the median of the runs, then its spread (min – max). Baselines are measured in the same runs.",
    '  "met" judges the median against the target of issue 9; ratios are taken run by run.',
    "",
  );

  out.push("## Summary", "", "| scenario | target (issue 9) | median | met |", "| --- | --- | --- | --- |");
  for (const s of report.scenarios) {
    // Every target: judged, reported, or not judged at this size (quick mode) with the reason.
    const rows = (s.rows ?? []).filter((r) => r.target);
    if (s.status !== "ok") out.push(`| ${s.name} | | | ${s.status}: ${cell(s.error ?? "")} |`);
    for (const r of rows) {
      out.push(
        `| ${s.name} | ${cell(r.target!.text)} | ${format(r.value.median, r.value.unit)} ${r.value.unit} | ${metCell(r)} |`,
      );
    }
  }
  out.push("");
  const whys = report.scenarios.flatMap((s) =>
    (s.rows ?? []).filter((r) => r.target?.met === false && r.target.why).map((r) => ({ s, r })),
  );
  if (whys.length > 0) {
    out.push("### Not met here: the reason measured in the same runs, and what would meet it", "");
    for (const { s, r } of whys) out.push(`- **${s.name}** (${r.target!.text}): ${r.target!.why}`);
    out.push("");
  }

  for (const s of report.scenarios) {
    out.push(`## ${s.name}: ${s.title}`, "");
    const params = Object.entries(s.params ?? {})
      .map(([k, v]) => `${k} ${typeof v === "number" ? v.toLocaleString("en-US") : v}`)
      .join(", ");
    const head = [
      s.status === "ok" ? "" : `**${s.status}**: ${s.error ?? ""}`,
      params,
      `${Math.round(s.seconds)} s, the bench using ${s.cpu.benchCores} cores and other processes ${s.cpu.otherCores} on average${othersText(s.cpu.others)}`,
    ];
    out.push(`${head.filter(Boolean).join("; ")}.`, "");
    if (s.rows?.length) {
      out.push("| figure | median | spread | baseline, same runs | target (issue 9) | met |");
      out.push("| --- | ---: | ---: | --- | --- | --- |");
      for (const r of s.rows) {
        out.push(
          `| ${cell(r.label)} | ${format(r.value.median, r.value.unit)} | ${spread(r.value)} | ${cell(baselineCell(r))} | ${cell(r.target?.text ?? "")} | ${cell(metCell(r))} |`,
        );
      }
      out.push("");
    }
    for (const note of s.notes ?? []) out.push(`- ${note}`);
    if (s.notes?.length) out.push("");
  }
  return out.join("\n");
}

/** JSON with Infinity written as the string "Infinity" (plain JSON would turn it into null). */
export function json(report: Report): string {
  return `${JSON.stringify(report, (_k, v) => (v === Number.POSITIVE_INFINITY ? "Infinity" : v), 2)}\n`;
}
