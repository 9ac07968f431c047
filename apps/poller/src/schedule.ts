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

/** What a check saw of a running batch's progress. */
export interface Progress {
  /** Lines done (completed or failed) of `total`. */
  done: number;
  total: number;
  /** When it was seen. */
  atMs: number;
}

/**
 * When a running batch will be done, judged by how fast its lines were done between two checks: the
 * delay before the next check is the sooner of the doubling schedule and that moment (never under the
 * minimum), so a batch is seen complete soon after it is, not up to a whole doubled interval later. The
 * provider's counts move as lines run (OpenAI's and the emulator's do); without two readings with
 * progress between them, the schedule alone decides.
 */
export function delayUntilLikelyDone(
  previous: Pick<Progress, "done" | "atMs"> | undefined,
  now: Progress,
  scheduledMs: number,
  minIntervalMs: number,
): number {
  if (!previous || now.total <= 0 || now.done <= previous.done || now.atMs <= previous.atMs)
    return scheduledMs;
  const perMs = (now.done - previous.done) / (now.atMs - previous.atMs);
  const remainingMs = (now.total - now.done) / perMs;
  return Math.min(scheduledMs, Math.max(minIntervalMs, Math.ceil(remainingMs)));
}

/**
 * What a check leaves for the next one to judge progress by: the lines done, or none yet while the
 * provider validates the file (its counts are empty until the lines start). That zero is the first
 * reading: without it, a batch first seen running had no rate until a third check, and on the doubling
 * schedule a short batch was seen complete up to a whole interval after it was.
 */
export function readingOf(
  status: string,
  progress: Progress | undefined,
  atMs: number,
): Pick<Progress, "done" | "atMs"> | undefined {
  if (progress) return { done: progress.done, atMs: progress.atMs };
  return status === "validating" ? { done: 0, atMs } : undefined;
}

/** The progress a provider's batch object shows, if it counts its lines. */
export function progressOf(
  counts: { total: number; completed: number; failed: number } | null | undefined,
  atMs: number,
): Progress | undefined {
  if (!counts || !(counts.total > 0)) return undefined;
  return { done: counts.completed + counts.failed, total: counts.total, atMs };
}
