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

/**
 * Whether `mib` (what the figures show: 2^20 bytes) is under a bound of `mb` megabytes (10^6 bytes), as
 * issue 9 states its memory targets: 256 MB is 244.1 MiB, 300 MB 286.1 MiB.
 */
export function underMegabytes(mib: number, mb: number): boolean {
  return mib * 2 ** 20 < mb * 1e6;
}

/** A bound of `mb` megabytes in MiB, for the target's text. */
export const megabytesInMiB = (mb: number): string => ((mb * 1e6) / 2 ** 20).toFixed(1);

/** The median of one field over runs, rounded for a sentence (`digits` decimals). */
export const medianOf = <T>(runs: T[], pick: (run: T) => number, digits = 0): string =>
  median(runs.map(pick).filter((v) => !Number.isNaN(v))).toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
