/**
 * `pnpm bench`: the performance figures of issue 9, measured on this machine against real servers on
 * loopback. Starts its own Redis and MongoDB-compatible server (through @batch-gpt/local-services; or
 * uses REDIS_URL / MONGODB_URI), then runs each scenario: the OpenAI emulator, gateway, collator and
 * poller as child processes through their real entry points, load from separate processes, and each
 * baseline (a bare Hono server) in the same runs. Writes bench/results/<out>.json and .md.
 *
 * Every scenario is bounded in time (--timeout); every child is stopped at the end, on failure and on
 * Ctrl-C, and each has a watchdog that stops it should this process die.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fillCompileCache, type LocalServer, startMongo, startRedis } from "@batch-gpt/local-services";
import { codeVersion, loadNow, machine, versionOf } from "./lib/machine.ts";
import { type Options, parseOptions, USAGE } from "./lib/options.ts";
import { app, BENCH, child, ROOT } from "./lib/paths.ts";
import { CpuMonitor, pidsWithCommandLine, Scope, startedPids } from "./lib/procs.ts";
import { json, markdown, type Report, type ScenarioReport } from "./lib/report.ts";
import type { Services } from "./lib/stack.ts";
import { asyncIntake } from "./scenarios/async-intake.ts";
import { cacheHits } from "./scenarios/cache-hits.ts";
import { collation, results } from "./scenarios/collation.ts";
import { e2eSync } from "./scenarios/e2e-sync.ts";
import { fanOut } from "./scenarios/fan-out.ts";
import { heldCallers } from "./scenarios/held-callers.ts";
import { history } from "./scenarios/history.ts";
import { scaleOut } from "./scenarios/scale-out.ts";
import type { Scenario } from "./scenarios/types.ts";

/** In the order of issue 9's targets (collation and results share their runs). */
const SCENARIOS: Scenario[] = [
  e2eSync,
  history,
  cacheHits,
  asyncIntake,
  heldCallers,
  fanOut,
  collation,
  results,
  scaleOut,
];

const started = Date.now();
const loadAtStart = loadNow();
const clock = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s`;
const say = (text: string) => process.stdout.write(`[bench ${clock()}] ${text}\n`);

let opts: Options;
try {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === "help") {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  opts = parsed;
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

const dataDir = join(ROOT, ".data", "bench", `run-${process.pid}`);
const logDir = join(ROOT, ".data", "bench", "logs");
const servers: LocalServer[] = [];
let current: Scope | null = null;
let signals = 0;
let interrupted = false;
let cleaning: Promise<void> | null = null;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await current?.close(5000);
    await Promise.allSettled(servers.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    signals += 1;
    if (signals > 1) {
      current?.killAll();
      process.exit(130);
    }
    interrupted = true;
    say(
      `${signal}: stopping every process the bench started (again to kill them at once); no results written`,
    );
    void cleanUp().finally(() => process.exit(130));
  });
}

async function startServices(): Promise<{ services: Services; redis: string; mongo: string }> {
  mkdirSync(dataDir, { recursive: true });
  let redisServer: LocalServer | undefined;
  let mongoServer: LocalServer | undefined;
  let redisUrl = process.env.REDIS_URL;
  let redis = `Redis at REDIS_URL (${versionOf("redis-server", ["--version"])} on PATH)`;
  if (!redisUrl) {
    const server = await startRedis(join(dataDir, "redis"));
    servers.push(server);
    redisServer = server;
    redisUrl = server.url;
    redis = versionOf("redis-server", ["--version"]).replace(/ sha=.*/, "");
  }
  let mongoUri = process.env.MONGODB_URI;
  let mongo = "MongoDB at MONGODB_URI";
  if (!mongoUri) {
    const toolsBin = join(ROOT, ".tools", "bin");
    const server = await startMongo(join(dataDir, "mongo"), toolsBin);
    servers.push(server);
    mongoServer = server;
    mongoUri = server.url;
    mongo =
      server.kind === "ferretdb"
        ? `FerretDB ${versionOf(join(toolsBin, "ferretdb"), ["--version"]).replace(/^version:\s*/, "")} (SQLite backend)`
        : versionOf("mongod", ["--version"]);
  }
  // The servers' own processes (not their watchdogs), found by the port on their command line.
  const pidsOf = (server: LocalServer | undefined) => {
    if (!server) return [];
    const port = new URL(server.url).port;
    return [...pidsWithCommandLine(`127.0.0.1:${port}`), ...pidsWithCommandLine(`--port ${port} `)];
  };
  const redisPids = pidsOf(redisServer);
  const mongoPids = pidsOf(mongoServer);
  const serverPids = [...redisPids, ...mongoPids];
  return { services: { redisUrl, mongoUri, serverPids, redisPids, mongoPids }, redis, mongo };
}

async function runScenario(scenario: Scenario, services: Services): Promise<ScenarioReport> {
  const scope = new Scope(join(logDir, scenario.name));
  mkdirSync(scope.logDir, { recursive: true });
  current = scope;
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(Object.assign(new Error(`stopped after ${opts.timeoutS} s (--timeout)`), { timeout: true })),
      opts.timeoutS * 1000,
    );
  });
  say(`${scenario.name}: ${scenario.title}`);
  const log = (text: string) => say(`${scenario.name}: ${text}`);
  const cpu = new CpuMonitor(() => new Set([process.pid, ...startedPids, ...services.serverPids]));
  const usage = () => {
    const { benchCores, otherCores, others } = cpu.stop();
    if (otherCores >= 0.2) {
      const who = Object.entries(others).map(([name, cores]) => `${name} ${cores}`);
      say(`${scenario.name}: other processes used ${otherCores} cores meanwhile (${who.join(", ")})`);
    }
    return { benchCores, otherCores, others };
  };
  try {
    const outcome = await Promise.race([scenario.run({ opts, services, scope, log }), timeout]);
    return {
      name: scenario.name,
      title: scenario.title,
      status: "ok",
      seconds: (Date.now() - t0) / 1000,
      cpu: usage(),
      ...outcome,
    };
  } catch (err) {
    const timedOut = (err as { timeout?: boolean }).timeout === true;
    const error = (err as Error).message;
    if (!interrupted) say(`${scenario.name}: ${timedOut ? "TIMED OUT" : "FAILED"}: ${error}`);
    return {
      name: scenario.name,
      title: scenario.title,
      status: timedOut ? "timeout" : "failed",
      error,
      seconds: (Date.now() - t0) / 1000,
      cpu: usage(),
    };
  } finally {
    clearTimeout(timer);
    await scope.close();
    current = null;
  }
}

/** Data folders of earlier benches that died without cleaning up (killed by SIGKILL). */
function removeStaleData(): void {
  const parent = join(ROOT, ".data", "bench");
  for (const entry of existsSync(parent) ? readdirSync(parent) : []) {
    const pid = Number(/^run-(\d+)$/.exec(entry)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(parent, entry), { recursive: true, force: true });
    }
  }
}

async function main(): Promise<number> {
  removeStaleData();
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const chosen = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.name));
  say(
    `${opts.quick ? "quick" : "full"} mode, ${opts.runs} run(s) per scenario: ${chosen.map((s) => s.name).join(", ")}; logs in ${relative(process.cwd(), logDir)}`,
  );
  const { services, redis, mongo } = await startServices();
  say(`servers: ${redis}; ${mongo}`);
  // Every app starts as a deployed one does, with every file in Node's compile cache (the Docker image
  // fills its cache at build): the first scenario's first start must not be the one that fills it.
  await fillCompileCache([
    ...["openai-emulator", "gateway", "collator", "poller"].map(app),
    child("echo-server"),
  ]);
  const reports: ScenarioReport[] = [];
  for (const scenario of chosen) {
    const report = await runScenario(scenario, services);
    if (interrupted) return 130;
    reports.push(report);
  }

  const report: Report = {
    date: new Date(started).toISOString(),
    command: ["pnpm bench", ...process.argv.slice(2)].join(" "),
    mode: opts.quick ? "quick" : "full",
    runs: opts.runs,
    seconds: (Date.now() - started) / 1000,
    machine: machine(loadAtStart),
    code: codeVersion(),
    servers: { redis, mongo },
    options: opts,
    scenarios: reports,
  };
  const resultsDir = join(BENCH, "results");
  mkdirSync(resultsDir, { recursive: true });
  const md = markdown(report);
  writeFileSync(join(resultsDir, `${opts.out}.json`), json(report));
  writeFileSync(join(resultsDir, `${opts.out}.md`), md);
  process.stdout.write(`\n${md}\n`);
  say(`results in ${relative(process.cwd(), join(resultsDir, `${opts.out}.md`))} and .json`);
  return reports.every((r) => r.status === "ok") ? 0 : 1;
}

main()
  .then(
    (code) => cleanUp().then(() => code),
    (err: unknown) => {
      say(`bench failed: ${(err as Error).stack ?? String(err)}`);
      return cleanUp().then(() => 1);
    },
  )
  .then((code) => process.exit(code));
