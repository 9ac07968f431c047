/**
 * Load generator: autocannon, driven from a small Node script so each request can get its own body.
 *
 * autocannon rather than a hand-written loop: it is the well-kept HTTP benchmarking tool of the Node
 * ecosystem (maintained by Node's core contributors), keeps a fixed number of keep-alive connections
 * busy without the overhead of a general HTTP client, and records latency in an HDR histogram, so its
 * figures are comparable between the gateway and the baseline and with other projects' numbers.
 *
 * Reads its job as JSON in argv[2]; sends {type: "result", ...} over IPC and exits.
 */
import autocannon from "autocannon";
import { AUTH_HEADERS, chatBody } from "../lib/bodies.ts";

export interface CannonJob {
  url: string;
  connections: number;
  /** Stop after this many requests; else after `durationS`. */
  amount?: number;
  durationS?: number;
  /** Per-request timeout. */
  timeoutS: number;
  headers?: Record<string, string>;
  /** `unique`: a new body per request; `pick`: one of `count` bodies, uniformly at random. */
  bodies: { kind: "unique"; tag: string } | { kind: "pick"; tag: string; count: number };
}

export interface CannonResult {
  type: "result";
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  reqPerSec: number;
  cacheHits: number;
  /** This load generator's CPU seconds over the load. */
  cpuS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

const job = JSON.parse(process.argv[2] ?? "{}") as CannonJob;
const { bodies } = job;
let next = 0;
const nextBody =
  bodies.kind === "unique"
    ? () => chatBody(bodies.tag, next++)
    : () => chatBody(bodies.tag, Math.floor(Math.random() * bodies.count));
let cacheHits = 0;
/**
 * The run's length is taken here, to the last response: autocannon ends a run of `amount` requests
 * at its next one-second sample, so its own duration rounds up to whole seconds (a 4.1 s run of
 * 20,000 cache hits read as 5.04 s, 20% slower than it was).
 */
// The load begins: the bench measures the CPU of every process from here (its start-up left out).
process.send?.({ type: "started" });
const cpuAtStart = process.cpuUsage();
const startedAt = performance.now();
let lastResponseAt = startedAt;

const result = await autocannon({
  url: job.url,
  connections: job.connections,
  ...(job.amount ? { amount: job.amount } : { duration: job.durationS ?? 5 }),
  timeout: job.timeoutS,
  requests: [
    {
      method: "POST",
      headers: { "content-type": "application/json", ...AUTH_HEADERS, ...job.headers },
      setupRequest: (req) => ({ ...req, body: nextBody() }),
      onResponse: (_status, _body, _context, headers) => {
        lastResponseAt = performance.now();
        if (headers?.["x-batch-cache"] === "hit") cacheHits += 1;
      },
    },
  ],
});

const durationS = (lastResponseAt - startedAt) / 1000;
const message: CannonResult = {
  type: "result",
  requests: result.requests.total,
  ok: result["2xx"],
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  durationS,
  reqPerSec: durationS > 0 ? result["2xx"] / durationS : 0,
  cacheHits,
  cpuS: cpuSinceStart(),
  latencyMs: {
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    mean: result.latency.average,
  },
};
process.send?.(message, () => process.exit(0));

/** This process's CPU seconds since the load began. */
function cpuSinceStart(): number {
  const used = process.cpuUsage(cpuAtStart);
  return (used.user + used.system) / 1e6;
}
