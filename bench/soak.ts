/**
 * `pnpm soak`: a few thousand requests of all four endpoints and every mode (sync, async, cache,
 * streaming) through the whole system, as real processes on loopback, while collators and pollers are
 * SIGKILLed and replaced at random, Redis is restarted once (append-only file kept) and the emulator
 * answers 429, 500 or slowly at random. Then it audits: every caller answered exactly once with its own
 * answer (or refused in a way named legitimate), what the provider executed against what the store
 * recorded (no line billed twice), no orphan record, job or key. Prints the summary and writes it as JSON;
 * exits 1 when the audit fails. Bounded in requests and time (--help).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { codeVersion, loadNow, machine } from "./lib/machine.ts";
import { ROOT } from "./lib/paths.ts";
import { Scope } from "./lib/procs.ts";
import { auditProvider, auditRedis, auditStore, tally } from "./soak/audit.ts";
import { Chaos } from "./soak/chaos.ts";
import { Cluster, EMULATOR_BATCH_MS, SOAK_SETTINGS } from "./soak/cluster.ts";
import { parseSoakOptions, randomSource, type SoakOptions, USAGE } from "./soak/options.ts";
import { type CallRecord, call, ENDPOINTS, type Endpoint } from "./soak/traffic.ts";

const started = Date.now();
const loadAtStart = loadNow();
const clock = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s`;
const say = (text: string) => process.stdout.write(`[soak ${clock()}] ${text}\n`);

let opts: SoakOptions;
try {
  const parsed = parseSoakOptions(process.argv.slice(2));
  if (parsed === "help") {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  opts = parsed;
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const dataDir = join(ROOT, ".data", "soak", `run-${runId}`);
const logDir = join(ROOT, ".data", "soak", "logs");
const out = opts.out || join(ROOT, ".data", "soak", "summary.json");
rmSync(logDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });
const scope = new Scope(logDir);
const cluster = new Cluster(scope, dataDir, runId);

let cleaning: Promise<void> | null = null;
/** Stops everything; the servers' data stays when the audit failed, for a look at what went wrong. */
const cleanUp = (keepData = false) => {
  cleaning ??= cluster.stop().finally(() => {
    if (keepData)
      say(`this run's data (Redis's append-only file, the store) stays in ${relative(ROOT, dataDir)}`);
    else rmSync(dataDir, { recursive: true, force: true });
  });
  return cleaning;
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    say(`${signal}: stopping every process the soak started; no summary written`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const random = randomSource(opts.seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** Every caller, in the order sent. */
const calls: CallRecord[] = [];
/** Bodies answered (not failing), by endpoint: what cache-mode callers ask for again. */
const answered = new Map<Endpoint, string[]>(ENDPOINTS.map((e) => [e, []]));
/** Callers still waiting, by tag: what an identical caller attaches to. */
const waiting = new Map<string, CallRecord>();

/** The next caller: an endpoint and a mode at random, a new body or one sent before. */
function nextCall(n: number): CallRecord {
  const endpoint = pick(ENDPOINTS);
  const roll = random();
  const fresh = (mode: CallRecord["mode"], failing = false): CallRecord => ({
    n,
    tag: `${runId}-${n}`,
    endpoint,
    mode: mode === "stream" && endpoint === "/v1/embeddings" ? "sync" : mode,
    failing,
    outcome: "pending",
  });
  if (roll < 0.38) return fresh("sync");
  if (roll < 0.6) return fresh("async");
  if (roll < 0.78) return fresh("stream");
  if (roll < 0.86) {
    const tag = answered.get(endpoint)?.length ? pick(answered.get(endpoint)!) : undefined;
    if (!tag) return fresh("sync");
    return { n, tag, endpoint, mode: "cache", failing: false, cacheExpect: "hit", outcome: "pending" };
  }
  if (roll < 0.9) return { ...fresh("cache"), cacheExpect: "miss" };
  if (roll < 0.98) {
    // The same body as a caller still waiting: it attaches to that caller's line.
    const same = [...waiting.values()].find(
      (c) => c.endpoint === endpoint && !c.failing && c.mode !== "cache",
    );
    if (!same) return fresh("sync");
    return { n, tag: same.tag, endpoint, mode: "sync", failing: false, outcome: "pending" };
  }
  return fresh("sync", true);
}

/** When a caller last got its answer (or its failure). */
let lastAnswerAt = Date.now();

async function load(): Promise<void> {
  const stop = new AbortController();
  const intervalMs = (opts.loadS * 1000) / opts.requests;
  const inFlight = new Set<Promise<void>>();
  const loadStart = Date.now();
  const late = () => Date.now() - loadStart > (opts.loadS + opts.drainS) * 1000;
  let lastReport = 0;
  for (let n = 0; n < opts.requests; n++) {
    const due = loadStart + n * intervalMs;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    // Bounded in time: a system that stopped answering must not hold the soak for ever.
    while (inFlight.size >= opts.concurrency && !late()) {
      await Promise.race([...inFlight, new Promise((r) => setTimeout(r, 1000))]);
    }
    if (late()) {
      say(`${opts.requests - n} requests not sent: no room for them within ${opts.loadS + opts.drainS} s`);
      break;
    }
    const rec = nextCall(n);
    calls.push(rec);
    if (rec.mode !== "cache" && !waiting.has(rec.tag)) waiting.set(rec.tag, rec);
    const gateway = cluster.gatewayUrls[n % cluster.gatewayUrls.length]!;
    const p = call(gateway, rec, stop.signal).finally(() => {
      lastAnswerAt = Date.now();
      inFlight.delete(p);
      if (waiting.get(rec.tag) === rec) waiting.delete(rec.tag);
      if (rec.outcome === "answered" && !rec.failing && rec.mode !== "cache")
        answered.get(rec.endpoint)!.push(rec.tag);
    });
    inFlight.add(p);
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      say(`${n + 1}/${opts.requests} sent, ${inFlight.size} waiting`);
    }
  }
  say(
    `${calls.length} sent; waiting for the last ${inFlight.size} answers while they keep coming ` +
      `(given up after ${opts.drainS} s without one, or ${opts.drainS * 3} s in all)`,
  );
  // A slow system (this machine shared) is told apart from a stuck one: the drain goes on while
  // answers keep coming, and a caller still waiting when they stop for drainS is lost.
  const drainStart = Date.now();
  const drain = setInterval(() => {
    const quiet = Date.now() - lastAnswerAt > opts.drainS * 1000;
    if (quiet || Date.now() - drainStart > opts.drainS * 3000) stop.abort();
  }, 1000);
  await Promise.all(inFlight);
  clearInterval(drain);
}

/** Waits until nothing is queued and every batch record is done (the system at rest), up to `ms`. */
async function settle(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const redis = await auditRedis(cluster.redisUrl, cluster.prefix);
    const store = await auditStore(cluster.mongoUri, cluster.database, new Set());
    const rest = Object.keys(redis.jobsLeft).length === 0 && redis.admitted.requests === 0;
    if (rest && store.unfinishedRecords.length === 0 && store.withoutOutcome.length === 0) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<number> {
  say(
    `${opts.requests} requests over ${opts.loadS} s; ${opts.gateways} gateway(s), ${opts.collators} collators, ` +
      `${opts.pollers} pollers; seed ${opts.seed}`,
  );
  await cluster.start(opts);
  say(`stack up: gateways ${cluster.gatewayUrls.join(", ")}; logs in ${relative(process.cwd(), logDir)}`);
  const chaos = new Chaos(cluster, random, say, opts.lostReplies);
  const killing = chaos.kills(opts.killEveryS);
  const faulting = chaos.faults(opts.faultEveryS);
  const redisRestart = chaos.redisRestart(opts.loadS * 0.4, 1500);
  const loadStarted = Date.now();
  const loading = load();
  await new Promise((r) => setTimeout(r, opts.loadS * 1000));
  await redisRestart;
  await chaos.stop();
  await Promise.all([killing, faulting]);
  say(`chaos over: ${JSON.stringify(chaos.counts)}`);
  await loading;
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  say("every caller has its answer or was given up on; letting the system come to rest");
  await settle(30_000);

  const provider = await auditProvider(cluster.emulatorUrl);
  const store = await auditStore(cluster.mongoUri, cluster.database, provider.executedIds);
  const redis = await auditRedis(cluster.redisUrl, cluster.prefix);
  const callers = tally(calls);

  // Each body sent for the provider (not a cache-mode caller) and accepted must have been executed once.
  const tagsSent = new Map<string, CallRecord[]>();
  for (const c of calls) if (c.mode !== "cache") tagsSent.set(c.tag, [...(tagsSent.get(c.tag) ?? []), c]);
  let bodiesNeverExecuted = 0;
  for (const [tag, sent] of tagsSent) {
    const accepted = sent.some((c) => c.outcome === "answered" || c.outcome === "error-answer");
    if (accepted && !provider.executedByTag.has(tag)) bodiesNeverExecuted += 1;
  }
  const wrong = calls.filter((c) => c.outcome === "wrong");
  const lost = calls.filter((c) => c.outcome === "lost" || c.outcome === "pending");
  const problems = {
    lost: lost.length,
    notSent: opts.requests - calls.length,
    wrong: wrong.length,
    duplicated: provider.billedTwice.length + provider.bodiesBilledTwice.length + provider.duplicateInFile,
    answeredWithoutExecution: bodiesNeverExecuted,
    executedUnrecorded: store.executedUnrecorded.length,
    requestsWithoutOutcome: store.withoutOutcome.length,
    unfinishedRecords: store.unfinishedRecords.length,
    jobsLeft: Object.values(redis.jobsLeft).reduce((a, b) => a + b, 0),
    orphanJobs: redis.orphanJobs.length,
    unboundedKeys: redis.unbounded.length,
    admissionLeft: redis.admitted.requests + (redis.admitted.bytes === 0 ? 0 : 1),
  };
  const ok = Object.values(problems).every((n) => n === 0);
  const byMode: Record<string, number> = {};
  const byEndpoint: Record<string, number> = {};
  for (const c of calls) {
    byMode[c.mode] = (byMode[c.mode] ?? 0) + 1;
    byEndpoint[c.endpoint] = (byEndpoint[c.endpoint] ?? 0) + 1;
  }
  const summary = {
    ok,
    when: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    loadSeconds: Math.round(loadSeconds * 10) / 10,
    machine: machine(loadAtStart),
    code: codeVersion(),
    options: { ...opts, out: undefined },
    settings: {
      ...SOAK_SETTINGS,
      COLLATOR_STALE_RECORD_MS: String(opts.staleRecordMs),
      EMULATOR_BATCH_DURATION_MS: String(EMULATOR_BATCH_MS),
    },
    requests: calls.length,
    byMode,
    byEndpoint,
    distinctBodies: tagsSent.size,
    callers,
    legitimateFailures: {
      "cache-miss": "404 cache_miss: a cache-mode call for a body never sent",
      unavailable: "503 service_unavailable: a new call while Redis was down for its restart",
      "queue-full": "429 queue_full: admission control's bound on requests waiting for a collator",
      "error-answer": "400 from the provider for a body carrying the emulator's fail marker",
    },
    chaos: chaos.counts,
    provider: {
      batches: provider.batches,
      byStatus: provider.byStatus,
      linesReceived: provider.linesReceived,
      linesExecuted: provider.linesExecuted,
      linesUnexecuted: provider.linesUnexecuted,
    },
    store: {
      requests: store.requests,
      outcomes: store.outcomes,
      notExecuted: store.notExecuted,
    },
    redis: { keys: redis.keys, jobsLeft: redis.jobsLeft, admitted: redis.admitted },
    problems,
    examples: {
      lost: lost.slice(0, 10).map(({ n, tag, endpoint, mode, id }) => ({ n, tag, endpoint, mode, id })),
      wrong: wrong.slice(0, 10).map(({ n, tag, id, endpoint, mode, status, detail }) => ({
        n,
        tag,
        id,
        endpoint,
        mode,
        status,
        detail,
      })),
      billedTwice: provider.billedTwice.slice(0, 10),
      bodiesBilledTwice: provider.bodiesBilledTwice.slice(0, 10),
      executedUnrecorded: store.executedUnrecorded.slice(0, 10),
      requestsWithoutOutcome: store.withoutOutcome.slice(0, 10),
      unfinishedRecords: store.unfinishedRecords.slice(0, 10),
      orphanJobs: redis.orphanJobs.slice(0, 10),
      unboundedKeys: redis.unbounded.slice(0, 10),
    },
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  const kills = chaos.counts.kills.collator + chaos.counts.kills.poller;
  const faultCount = Object.values(chaos.counts.faults).reduce((a, b) => a + b, 0);
  for (const line of [
    "-".repeat(78),
    `soak ${ok ? "PASSED" : "FAILED"}: ${calls.length} requests (${JSON.stringify(byMode)}) in ${summary.seconds} s`,
    `callers: ${JSON.stringify(callers)}`,
    `chaos: ${kills} kills (${JSON.stringify(chaos.counts.kills)}), ${chaos.counts.redisRestarts} Redis restart, ` +
      `${faultCount} faults (${JSON.stringify(chaos.counts.faults)})`,
    `provider: ${provider.batches} batches ${JSON.stringify(provider.byStatus)}, ${provider.linesReceived} lines received, ` +
      `${provider.linesExecuted} executed, ${provider.linesUnexecuted} left by expired/cancelled batches`,
    `store: ${store.requests} requests, ${store.outcomes} outcomes; not executed: ${JSON.stringify(store.notExecuted)}`,
    `lost: ${problems.lost}, duplicated: ${problems.duplicated}, wrong: ${problems.wrong}; problems ${JSON.stringify(problems)}`,
    `summary: ${relative(process.cwd(), out)}`,
    "-".repeat(78),
  ]) {
    say(line);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => cleanUp(code !== 0).then(() => process.exit(code)),
  (err: unknown) => {
    say(`soak could not run: ${(err as Error).stack ?? String(err)}`);
    return cleanUp().then(() => process.exit(2));
  },
);
