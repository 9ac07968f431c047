import { parseArgs } from "node:util";

export interface Options {
  quick: boolean;
  runs: number;
  only: string[] | null;
  /** Per scenario, seconds: past it the scenario is stopped and reported as timed out. */
  timeoutS: number;
  /** Results go to bench/results/<out>.json and .md. */
  out: string;
  /** e2e-sync and history: distinct sync calls sent at once; seconds to wait for the last answer. */
  e2eCalls: number;
  e2eDeadlineS: number;
  /** cache-hits: answers stored first; requests measured; seconds of the echo baseline. */
  cacheStored: number;
  cacheHot: number;
  cacheRequests: number;
  baselineS: number;
  /** cache-hits, async-intake and scale-out: concurrent connections of the load generators. */
  connections: number;
  /** async-intake and scale-out: seconds of load per run (gateway and echo alike). */
  asyncS: number;
  /** held-callers: concurrent sync callers held on one gateway; seconds to wait for them to settle. */
  held: number;
  heldSettleS: number;
  /** history: earlier requests (answered and cached) stored before the e2e-sync burst is repeated. */
  history: number;
  /** fan-out: sync callers waiting on one batch of that many lines. */
  fanOut: number;
  /** collation and results: lines of the one batch, and each line's request body in bytes. */
  collationLines: number;
  bodyBytes: number;
}

const FULL = {
  timeoutS: 1200,
  e2eCalls: 3000,
  e2eDeadlineS: 300,
  cacheStored: 100_000,
  cacheHot: 10_000,
  cacheRequests: 40_000, // at ~13,000 req/s, 10,000 was under a second of load: too short to measure
  baselineS: 5,
  connections: 100,
  asyncS: 10,
  held: 10_000,
  heldSettleS: 180,
  history: 200_000,
  fanOut: 10_000,
  collationLines: 50_000,
  bodyBytes: 1024,
};

const QUICK: typeof FULL = {
  timeoutS: 60,
  e2eCalls: 200,
  e2eDeadlineS: 30,
  cacheStored: 2000,
  cacheHot: 200,
  cacheRequests: 1000,
  baselineS: 1,
  connections: 50,
  asyncS: 1,
  held: 1000,
  heldSettleS: 20,
  history: 2000,
  fanOut: 1000,
  collationLines: 2000,
  bodyBytes: 1024,
};

export const USAGE = `pnpm bench [flags]     (results in bench/results/)

  --quick                 short version with small counts (CI; about 70 s), results in quick.*
  --runs N                runs per scenario (default 3; --quick: 1)
  --only a,b              run only these scenarios: e2e-sync, history, cache-hits, async-intake,
                          held-callers, fan-out, collation, results, scale-out (results in partial.* unless --out)
  --out NAME              write bench/results/NAME.json and NAME.md (default latest)
  --timeout S             give up on a scenario after S seconds (default ${FULL.timeoutS}; --quick ${QUICK.timeoutS})
  --e2e-calls N           e2e-sync, history: distinct sync calls at once (default ${FULL.e2eCalls}; --quick ${QUICK.e2eCalls})
  --cache-stored M        cache-hits: answered requests seeded into the store (default ${FULL.cacheStored}; --quick ${QUICK.cacheStored})
  --cache-hot H           cache-hits: of them, the hot ones requested, in Redis's tier (default ${FULL.cacheHot}; --quick ${QUICK.cacheHot})
  --cache-requests K      cache-hits: requests measured per run (default ${FULL.cacheRequests}; --quick ${QUICK.cacheRequests})
  --connections C         cache-hits, async-intake, scale-out: concurrent connections (default ${FULL.connections}; --quick ${QUICK.connections})
  --async-seconds S       async-intake, scale-out: seconds of load per run (default ${FULL.asyncS}; --quick ${QUICK.asyncS})
  --held C                held-callers: concurrent held callers (default ${FULL.held}; --quick ${QUICK.held})
  --history N             history: earlier requests stored before the e2e-sync burst (default ${FULL.history}; --quick ${QUICK.history})
  --fan-out N             fan-out: sync callers answered from one N-line batch (default ${FULL.fanOut}; --quick ${QUICK.fanOut})
  --collation-lines N     collation, results: lines of the one batch (default ${FULL.collationLines}; --quick ${QUICK.collationLines})
  --help
`;

export const SCENARIO_NAMES = [
  "e2e-sync",
  "history",
  "cache-hits",
  "async-intake",
  "held-callers",
  "fan-out",
  "collation",
  "results",
  "scale-out",
] as const;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number (got "${value}")`);
  return n;
}

export function parseOptions(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      only: { type: "string" },
      out: { type: "string" },
      timeout: { type: "string" },
      "e2e-calls": { type: "string" },
      "cache-stored": { type: "string" },
      "cache-hot": { type: "string" },
      "cache-requests": { type: "string" },
      connections: { type: "string" },
      "async-seconds": { type: "string" },
      held: { type: "string" },
      history: { type: "string" },
      "fan-out": { type: "string" },
      "collation-lines": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const d = values.quick ? QUICK : FULL;
  const only = values.only ? values.only.split(",").map((s) => s.trim()) : null;
  for (const name of only ?? []) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown scenario "${name}"; the scenarios are ${SCENARIO_NAMES.join(", ")}`);
    }
  }
  const out = values.out ?? (values.quick ? "quick" : only ? "partial" : "latest");
  if (!/^[\w.-]+$/.test(out)) throw new Error(`--out needs a plain file name (got "${out}")`);
  return {
    quick: values.quick,
    runs: Math.round(positive("runs", values.runs, values.quick ? 1 : 3)),
    only,
    out,
    timeoutS: positive("timeout", values.timeout, d.timeoutS),
    e2eCalls: Math.round(positive("e2e-calls", values["e2e-calls"], d.e2eCalls)),
    e2eDeadlineS: d.e2eDeadlineS,
    cacheStored: Math.round(positive("cache-stored", values["cache-stored"], d.cacheStored)),
    cacheHot: Math.round(positive("cache-hot", values["cache-hot"], d.cacheHot)),
    cacheRequests: Math.round(positive("cache-requests", values["cache-requests"], d.cacheRequests)),
    baselineS: d.baselineS,
    connections: Math.round(positive("connections", values.connections, d.connections)),
    asyncS: positive("async-seconds", values["async-seconds"], d.asyncS),
    held: Math.round(positive("held", values.held, d.held)),
    heldSettleS: d.heldSettleS,
    history: Math.round(positive("history", values.history, d.history)),
    fanOut: Math.round(positive("fan-out", values["fan-out"], d.fanOut)),
    collationLines: Math.round(positive("collation-lines", values["collation-lines"], d.collationLines)),
    bodyBytes: d.bodyBytes,
  };
}
