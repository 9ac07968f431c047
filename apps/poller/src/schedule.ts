/**
 * When to check a batch next. The interval doubles from the minimum up to the maximum; but a batch the
 * provider is finalizing (its lines have run; only the output is being written) is checked again at the
 * minimum interval, so its completion is noticed soon after it happens rather than up to a whole
 * doubled interval late.
 */
export function nextCheckDelay(
  status: string,
  previousMs: number,
  limits: { minIntervalMs: number; maxIntervalMs: number },
): number {
  if (status === "finalizing") return limits.minIntervalMs;
  return Math.min(limits.maxIntervalMs, Math.max(limits.minIntervalMs, previousMs * 2));
}
