/**
 * Load generator: `n` distinct chat completions sent at once through the official `openai` Node SDK,
 * the way a user's code calls the gateway. Times each answer from the moment the burst starts.
 *
 * Reads its job as JSON in argv[2]; sends {type: "result", ...} over IPC and exits, after the last answer
 * or at `deadlineMs` (then the calls still open count as unanswered).
 */
import OpenAI from "openai";
import { BENCH_KEY, chatText, MODEL } from "../lib/bodies.ts";
import { percentile } from "../lib/stats.ts";

export interface BurstJob {
  baseURL: string;
  n: number;
  tag: string;
  deadlineMs: number;
  /** Check each answer is the emulator's ("echo: " + the message); off for the Hono echo. */
  verify: boolean;
}

export interface BurstResult {
  type: "result";
  n: number;
  answered: number;
  failed: number;
  wrong: number;
  unanswered: number;
  firstMs: number;
  lastMs: number;
  p50Ms: number;
  p90Ms: number;
  errors: string[];
  /** This load generator's CPU seconds over the load. */
  cpuS: number;
}

const job = JSON.parse(process.argv[2] ?? "{}") as BurstJob;
const client = new OpenAI({
  baseURL: job.baseURL,
  apiKey: BENCH_KEY,
  maxRetries: 0,
  timeout: job.deadlineMs,
});

const times: number[] = [];
const errors = new Map<string, number>();
let failed = 0;
let wrong = 0;
// The load begins: the bench measures the CPU of every process from here (its start-up left out).
process.send?.({ type: "started" });
const cpuAtStart = process.cpuUsage();
const start = performance.now();
const calls = Array.from({ length: job.n }, async (_, i) => {
  const content = chatText(job.tag, i);
  try {
    const reply = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content }],
    });
    times.push(performance.now() - start);
    if (job.verify && reply.choices?.[0]?.message?.content !== `echo: ${content}`) wrong += 1;
  } catch (err) {
    failed += 1;
    const key = (err as Error).message.slice(0, 200);
    errors.set(key, (errors.get(key) ?? 0) + 1);
  }
});

let timer: NodeJS.Timeout | undefined;
await Promise.race([
  Promise.all(calls),
  new Promise((resolve) => {
    timer = setTimeout(resolve, job.deadlineMs);
  }),
]);
clearTimeout(timer);

const message: BurstResult = {
  type: "result",
  n: job.n,
  answered: times.length,
  failed,
  wrong,
  unanswered: job.n - times.length - failed,
  firstMs: times.length ? Math.min(...times) : Number.NaN,
  lastMs: times.length ? Math.max(...times) : Number.NaN,
  p50Ms: percentile(times, 50),
  p90Ms: percentile(times, 90),
  errors: [...errors].map(([text, count]) => `${count}× ${text}`),
  cpuS: cpuSinceStart(),
};
process.send?.(message, () => process.exit(0));

/** This process's CPU seconds since the load began. */
function cpuSinceStart(): number {
  const used = process.cpuUsage(cpuAtStart);
  return (used.user + used.system) / 1e6;
}
