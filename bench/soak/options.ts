import { parseArgs } from "node:util";

export interface SoakOptions {
  /** Requests sent during the load phase (each a caller: sync, async, cache or streaming). */
  requests: number;
  /** Seconds the load is spread over (kills, faults and the Redis restart happen within it). */
  loadS: number;
  /**
   * After the load, the callers still waiting are given up on (lost) once no caller got an answer for
   * this many seconds, or after three times as long in all.
   */
  drainS: number;
  /** Processes of each app. */
  gateways: number;
  collators: number;
  pollers: number;
  /** Mean seconds between two kills (SIGKILL) of a random collator or poller. */
  killEveryS: number;
  /** Mean seconds between two emulator faults (429, 500 or a slow answer). */
  faultEveryS: number;
  /**
   * COLLATOR_STALE_RECORD_MS: how soon a killed collator's records are taken over. Short, a live
   * collator whose heartbeat FerretDB delays under the full load loses its records, and they churn.
   */
  staleRecordMs: number;
  /** Callers in flight at most (a caller waits for its answer before its slot is reused). */
  concurrency: number;
  /** Where the summary is written (JSON). */
  out: string;
  /** A random seed, so a run can be repeated. */
  seed: number;
  /** Faults that lose the reply of a call that took effect (a file stored, a batch created). */
  lostReplies: boolean;
}

const FULL: Omit<SoakOptions, "out" | "seed" | "lostReplies"> = {
  requests: 2000,
  loadS: 400,
  drainS: 120,
  gateways: 2,
  collators: 2,
  pollers: 2,
  killEveryS: 15,
  faultEveryS: 3,
  staleRecordMs: 60_000,
  concurrency: 1000,
};

const QUICK: typeof FULL = {
  requests: 300,
  loadS: 20,
  drainS: 15,
  gateways: 1,
  collators: 2,
  pollers: 2,
  killEveryS: 4,
  faultEveryS: 1.5,
  staleRecordMs: 8000,
  concurrency: 100,
};

export const USAGE = `pnpm soak [--quick] [--requests N] [--load-seconds S] [--drain-seconds S] [--gateways N]
          [--collators N] [--pollers N] [--kill-every S] [--fault-every S] [--concurrency N]
          [--out FILE] [--seed N] [--no-lost-replies]

Pushes requests of all four endpoints and every mode through the whole system (real processes on
loopback) while it kills collators and pollers, restarts Redis once and has the emulator fail or slow
down at random; then audits that every caller was answered exactly once and no line was billed twice.
--quick: ${QUICK.requests} requests over ${QUICK.loadS} s (what the CI test runs). Default: ${FULL.requests} over ${FULL.loadS} s.
--no-lost-replies: leave out the faults where a call takes effect and its reply is lost.
The summary is printed and written to --out (default .data/soak/summary.json). Exit code 1 when the
audit finds a lost, duplicated or wrong answer, an orphan, or a key without a bounded life.
`;

export function parseSoakOptions(argv: string[]): SoakOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: "boolean", short: "h" },
      quick: { type: "boolean" },
      requests: { type: "string" },
      "load-seconds": { type: "string" },
      "drain-seconds": { type: "string" },
      gateways: { type: "string" },
      collators: { type: "string" },
      pollers: { type: "string" },
      "kill-every": { type: "string" },
      "fault-every": { type: "string" },
      concurrency: { type: "string" },
      out: { type: "string" },
      seed: { type: "string" },
      "no-lost-replies": { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const base = values.quick ? QUICK : FULL;
  const num = (name: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min)
      throw new Error(`--${name} must be a number ≥ ${min} (got "${value}")`);
    return n;
  };
  const int = (name: string, value: string | undefined, fallback: number, min: number) => {
    const n = num(name, value, fallback, min);
    if (!Number.isInteger(n)) throw new Error(`--${name} must be a whole number (got "${value}")`);
    return n;
  };
  return {
    requests: int("requests", values.requests, base.requests, 10),
    loadS: num("load-seconds", values["load-seconds"], base.loadS, 5),
    drainS: num("drain-seconds", values["drain-seconds"], base.drainS, 5),
    gateways: int("gateways", values.gateways, base.gateways, 1),
    collators: int("collators", values.collators, base.collators, 1),
    pollers: int("pollers", values.pollers, base.pollers, 1),
    killEveryS: num("kill-every", values["kill-every"], base.killEveryS, 0.5),
    faultEveryS: num("fault-every", values["fault-every"], base.faultEveryS, 0.2),
    staleRecordMs: base.staleRecordMs,
    concurrency: int("concurrency", values.concurrency, base.concurrency, 1),
    out: values.out ?? "",
    seed: int("seed", values.seed, Math.floor(Math.random() * 1e9), 0),
    lostReplies: !values["no-lost-replies"],
  };
}

/** A small seeded generator (mulberry32): the same seed plays the same requests, kills and faults. */
export function randomSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
