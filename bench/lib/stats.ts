/** A figure measured once per run, summarised as median and spread. */
export interface Figure {
  unit: string;
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function figure(unit: string, runs: number[]): Figure {
  // Infinity (e.g. "never answered") counts; NaN (not measured) does not.
  const known = runs.filter((v) => !Number.isNaN(v));
  return {
    unit,
    runs,
    median: median(known),
    min: known.length ? Math.min(...known) : Number.NaN,
    max: known.length ? Math.max(...known) : Number.NaN,
  };
}
