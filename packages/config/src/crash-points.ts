import type { Step } from "@batch-gpt/contracts";

/**
 * Named steps double as crash points: with BATCH_GPT_CRASH_AT=<step> the process kills itself with
 * SIGKILL the first time it reaches that step, so tests can prove recovery from a crash exactly there.
 * Unset in production; reaching a step then only costs this comparison.
 */
export function reachedStep(step: Step, env: Record<string, string | undefined> = process.env): void {
  if (env.BATCH_GPT_CRASH_AT === step) process.kill(process.pid, "SIGKILL");
}
