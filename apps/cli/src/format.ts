/** Text helpers for the CLI's tables and progress display. */

export { duration } from "@batch-gpt/contracts";

/** `[#####x....]`: succeeded lines as #, failed as x, the rest still to do. */
export function progressBar(done: number, failed: number, total: number, width = 20): string {
  if (total <= 0) return `[${".".repeat(width)}]`;
  const ok = Math.round((Math.min(done, total) / total) * width);
  const bad = Math.min(width - ok, Math.round((Math.min(failed, total) / total) * width));
  return `[${"#".repeat(ok)}${"x".repeat(bad)}${".".repeat(width - ok - bad)}]`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export const count = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
