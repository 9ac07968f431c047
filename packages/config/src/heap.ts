import { setFlagsFromString } from "node:v8";
import { z } from "zod";
import { type Env, intSetting, parseEnv } from "./env.ts";

/**
 * How far V8 lets the old generation grow past what the last full collection kept before it collects
 * again, in percent. 0 leaves V8's own factor, which on a machine with memory to spare is up to 4×:
 * measured on a 24 GiB machine, a poller whose live heap stayed near 80 MB peaked at 540 MiB RSS
 * settling a 50,000-line batch (its old generation grew to 250 MB of garbage between collections).
 * With 25 it peaked at 269 MiB and settled the batch as fast. It is a pace, not a cap: a process that
 * needs more memory still gets it, it only collects sooner.
 */
export const heapSchema = z.object({
  HEAP_GROWING_PERCENT: intSetting(0, 400).default(25),
});

/**
 * Sets the pace of V8's full collections for this process from HEAP_GROWING_PERCENT. Called first
 * thing by each app's entry point: V8 reads the flag each time it sets the next collection's limit, so
 * it holds from the next collection on. (The young generation's size is fixed when the process
 * starts, so it is a flag the app is started with: see `APP_NODE_FLAGS` in @batch-gpt/local-services.)
 */
export function paceHeap(env: Env, app: string): number {
  const { HEAP_GROWING_PERCENT: percent } = parseEnv(heapSchema, env, app);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
