/**
 * `npm run dev`: the whole stack on this machine, by itself.
 *
 * - Redis: REDIS_URL when set, else a persisting redis-server on 127.0.0.1:6390 (a free port if taken),
 *   data in $DEV_DATA_DIR/redis.
 * - MongoDB: MONGODB_URI or MONGO_HOST when set, else a mongod on PATH or FerretDB on 127.0.0.1:27027 (a
 *   free port if taken), data in $DEV_DATA_DIR/mongo.
 * - OpenAI: when OPENAI_API_KEY is unset, the OpenAI emulator on EMULATOR_PORT (8090; a free port if the
 *   default is taken), state in $DEV_DATA_DIR/emulator, with the stack pointed at it.
 * - gateway (PORT, 8080), collator and poller as child processes, output prefixed with their names.
 *
 * Ctrl-C / SIGTERM stops the gateway, collator, poller, emulator, then the servers, in that order. If any
 * app dies, everything stops and this exits non-zero. DEV_DATA_DIR defaults to .data/dev.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  freePort,
  type LocalServer,
  PidFiles,
  startMongo,
  startRedis,
} from "../packages/local-services/src/index.ts";
import { type AppChild, describeExit, prefixed, spawnAppChild } from "./dev-child.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DEFAULT_REDIS_PORT = 6390;
const DEFAULT_MONGO_PORT = 27027;
const DEFAULT_GATEWAY_PORT = 8080;
const DEFAULT_EMULATOR_PORT = 8090;
const EMULATOR_DUMMY_KEY = "sk-emulator-dev";

/** A startup problem the user can fix; printed without a stack trace. */
class DevError extends Error {}

const say = (text: string) => process.stdout.write(`${prefixed("dev", text)}\n`);
const warn = (text: string) => process.stderr.write(`${prefixed("dev", text, process.stderr)}\n`);
/** A path relative to the current folder when inside it, else absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}

/** A URL without its password, fit to print. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}

interface Part {
  name: string;
  stop(): Promise<void>;
  kill?(): void;
}

const env = process.env;
const dataDir = resolve(env.DEV_DATA_DIR || join(ROOT, ".data", "dev"));
const lockFile = join(dataDir, "dev.pid");
/** What this dev runs, by pid file: what a killed dev left is found and stopped by the next one. */
const pidFiles = new PidFiles(join(dataDir, "pids"));
/** What is running, in start order; stopped in reverse. */
const parts: Part[] = [];
let stopping: Promise<void> | null = null;

function shutdown(code: number, why: string): Promise<void> {
  if (stopping) return stopping;
  (code === 0 ? say : warn)(why);
  stopping = (async () => {
    for (let part = parts.pop(); part; part = parts.pop()) {
      say(`stopping ${part.name}`);
      await part.stop().catch((err: unknown) => warn(`${part.name}: ${(err as Error).message}`));
    }
    releaseLock();
    say("everything stopped");
    process.exit(code);
  })();
  return stopping;
}

function addChild(app: AppChild): AppChild {
  pidFiles.record(app.name, app.child.pid);
  void app.exited.then(() => pidFiles.forget(app.name));
  parts.push({
    name: app.name,
    async stop() {
      const result = await app.stop();
      if (result.code !== 0 && result.signal !== "SIGTERM") warn(`${app.name} ${describeExit(result)}`);
    },
    kill: () => app.child.kill("SIGKILL"),
  });
  void app.exited.then((result) => {
    if (!stopping) void shutdown(1, `${app.name} ${describeExit(result)} unexpectedly: stopping everything`);
  });
  return app;
}

function addServer(server: LocalServer): LocalServer {
  pidFiles.record(server.kind, server.pid);
  parts.push({
    name: server.kind,
    async stop() {
      await server.stop();
      pidFiles.forget(server.kind);
    },
  });
  return server;
}

function isDevProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dev.ts");
  } catch {
    return true;
  }
}

/** One dev stack per data folder: two would share Redis's append-only file and the database files. */
function takeLock(): void {
  mkdirSync(dataDir, { recursive: true });
  if (existsSync(lockFile)) {
    const pid = Number(readFileSync(lockFile, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isDevProcess(pid)) {
      throw new DevError(
        `another dev stack (pid ${pid}) is using ${shown(dataDir)}: stop it first, or give this one DEV_DATA_DIR=<another folder>`,
      );
    }
  }
  writeFileSync(lockFile, `${process.pid}\n`);
}

function releaseLock(): void {
  try {
    if (readFileSync(lockFile, "utf8").trim() === String(process.pid)) rmSync(lockFile);
  } catch {
    // no lock taken
  }
}

function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", () => resolvePort(false));
    server.listen(port, host, () => server.close(() => resolvePort(true)));
  });
}

function portSetting(name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DevError(`${name} must be a port number 0-65535 (got "${value}")`);
  }
  return port;
}

/**
 * The port a part listens on: the variable's value when set (0 = any free port; taken = error), else the
 * default, or any free port when `fallback` and the default is taken.
 */
async function choosePort(
  what: string,
  setting: string | undefined,
  preferred: number,
  host: string,
  fallback: boolean,
): Promise<number> {
  const explicit = setting ? portSetting(setting) : undefined;
  if (explicit === 0) return freePort();
  const port = explicit ?? preferred;
  if (await portIsFree(port, host)) return port;
  if (explicit === undefined && fallback) {
    const other = await freePort();
    say(`${what}: port ${port} is taken, using ${other}`);
    return other;
  }
  throw new DevError(
    `${what}: port ${port} is already in use${setting ? `; set ${setting} to another port` : ""}`,
  );
}

/** Resolves once `url` answers 200; fails if the app exits first. */
async function waitForHttp(url: string, app: AppChild, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: Awaited<AppChild["exited"]> | undefined;
  void app.exited.then((r) => (exit = r));
  while (Date.now() < deadline) {
    if (exit) throw new DevError(`${app.name} ${describeExit(exit)} before it answered ${url}`);
    if (stopping) return;
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) return;
    await sleep(200);
  }
  throw new DevError(`${app.name} did not answer ${url} within ${timeoutMs / 1000} s`);
}

/** Whether `url` is this machine's `port`. */
function pointsAt(url: string, port: number): boolean {
  try {
    const u = new URL(url);
    const local = ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"].includes(u.hostname);
    return local && Number(u.port || (u.protocol === "https:" ? 443 : 80)) === port;
  } catch {
    return false;
  }
}

const appScript = (name: string) => join(ROOT, "apps", name, "src", "main.ts");

/**
 * A dev killed without a chance to stop its parts (SIGKILL, an out-of-memory kill) has watchdogs that
 * stop them; should those have been killed too, its pid files still name them. Whatever of them still
 * runs is stopped here, before anything starts on the data folder: a second FerretDB or Redis over the
 * same files, or an old gateway holding the port, must never be.
 */
async function stopLeftovers(): Promise<void> {
  for (const left of await pidFiles.stopLeftovers()) {
    say(
      `stopped ${left.name} (pid ${left.pid}) left running by an earlier dev${left.killed ? " (killed)" : ""}`,
    );
  }
}

async function main(): Promise<void> {
  takeLock();
  await stopLeftovers();
  const lines: string[] = [];
  // The gateway's port is the one users configure: refuse a taken one before starting anything.
  const gatewayPort = await choosePort("gateway", "PORT", DEFAULT_GATEWAY_PORT, "0.0.0.0", false);

  let redisUrl = env.REDIS_URL;
  if (redisUrl) {
    lines.push(`Redis     ${redacted(redisUrl)} (from REDIS_URL)`);
  } else {
    const port = await choosePort("redis", undefined, DEFAULT_REDIS_PORT, "127.0.0.1", true);
    const dir = join(dataDir, "redis");
    say(`starting redis-server on port ${port} (data in ${shown(dir)})`);
    redisUrl = addServer(await startRedis(dir, { persist: true, port })).url;
    lines.push(`Redis     ${redisUrl} (redis-server, data in ${shown(dir)})`);
  }
  if (stopping) return;

  let mongoUri = env.MONGODB_URI;
  if (mongoUri) {
    lines.push(`MongoDB   ${redacted(mongoUri)} (from MONGODB_URI)`);
  } else if (env.MONGO_HOST) {
    lines.push(`MongoDB   ${env.MONGO_HOST}:${env.MONGO_PORT || 27017} (from MONGO_HOST)`);
  } else {
    const port = await choosePort("mongo", undefined, DEFAULT_MONGO_PORT, "127.0.0.1", true);
    const dir = join(dataDir, "mongo");
    say(`starting the MongoDB-compatible server on port ${port} (data in ${shown(dir)})`);
    const server = addServer(await startMongo(dir, join(ROOT, ".tools", "bin"), { port }));
    mongoUri = server.url;
    const db = env.MONGO_DATABASE || "batchgpt";
    lines.push(`MongoDB   ${mongoUri} database ${db} (${server.kind}, data in ${shown(dir)})`);
  }
  if (stopping) return;

  let apiKey = env.OPENAI_API_KEY;
  let baseUrl = env.OPENAI_BASE_URL;
  const emulated = !apiKey;
  if (emulated) {
    say("OPENAI_API_KEY is not set: starting the OpenAI EMULATOR. Answers come from the emulator");
    say('("echo: " + your last message), NOT from a model. Set OPENAI_API_KEY to use OpenAI.');
    if (baseUrl) say(`(OPENAI_BASE_URL=${baseUrl} is ignored while OPENAI_API_KEY is unset)`);
    const host = env.EMULATOR_HOST || "127.0.0.1";
    const reachAt = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    const port = await choosePort("emulator", "EMULATOR_PORT", DEFAULT_EMULATOR_PORT, host, true);
    const stateDir = resolve(env.EMULATOR_STATE_DIR || join(dataDir, "emulator"));
    const emulator = addChild(
      spawnAppChild(
        "emulator",
        appScript("openai-emulator"),
        { ...env, EMULATOR_PORT: String(port), EMULATOR_STATE_DIR: stateDir },
        ROOT,
      ),
    );
    const origin = `http://${reachAt.includes(":") ? `[${reachAt}]` : reachAt}:${port}`;
    await waitForHttp(`${origin}/healthz`, emulator);
    baseUrl = `${origin}/v1`;
    apiKey = env.EMULATOR_API_KEYS?.split(",")[0]?.trim() || EMULATOR_DUMMY_KEY;
    lines.push(`OpenAI    EMULATOR at ${baseUrl}: answers are "echo: <last message>", not a model's`);
    lines.push(`          (state in ${shown(stateDir)}; set OPENAI_API_KEY to use OpenAI)`);
  } else {
    if (baseUrl && pointsAt(baseUrl, gatewayPort)) {
      throw new DevError(
        `OPENAI_BASE_URL=${baseUrl} is the gateway itself (that variable is for the SDKs of your clients): unset it, or set it to OpenAI's URL`,
      );
    }
    lines.push(`OpenAI    ${baseUrl || "https://api.openai.com/v1"} (real batches, billed to your key)`);
  }
  if (stopping) return;

  const appEnv: NodeJS.ProcessEnv = {
    ...env,
    REDIS_URL: redisUrl,
    ...(mongoUri ? { MONGODB_URI: mongoUri } : {}),
    OPENAI_API_KEY: apiKey,
    ...(baseUrl ? { OPENAI_BASE_URL: baseUrl } : {}),
    PORT: String(gatewayPort),
  };
  // The collator's and the poller's /metrics, /healthz and /readyz: a free port each (one METRICS_PORT
  // in the environment would be the same for both).
  const metricsPorts = { poller: await freePort(), collator: await freePort() };
  const workerEnv = (app: keyof typeof metricsPorts) => ({
    ...appEnv,
    METRICS_PORT: String(metricsPorts[app]),
  });
  addChild(spawnAppChild("poller", appScript("poller"), workerEnv("poller"), ROOT));
  addChild(spawnAppChild("collator", appScript("collator"), workerEnv("collator"), ROOT));
  const gateway = addChild(spawnAppChild("gateway", appScript("gateway"), appEnv, ROOT));
  await waitForHttp(`http://127.0.0.1:${gatewayPort}/healthz`, gateway);
  if (stopping) return;

  const origin = `http://127.0.0.1:${gatewayPort}`;
  const body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}';
  const rule = "-".repeat(78);
  for (const line of [
    rule,
    `batch-gpt is running. Gateway: ${origin}/v1  (the SDKs' base URL)`,
    ...lines.map((l) => `  ${l}`),
    "Try it (the call is held until its batch completes):",
    `  curl ${origin}/v1/chat/completions -H 'Content-Type: application/json' \\`,
    `    -d '${body}'`,
    `Metrics: gateway ${origin}/metrics, collator http://127.0.0.1:${metricsPorts.collator}/metrics,`,
    `  poller http://127.0.0.1:${metricsPorts.poller}/metrics   Queues: ${origin}/admin/queues`,
    `Health: ${origin}/healthz   Ctrl-C stops everything.`,
    rule,
  ]) {
    say(line);
  }
}

let signals = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    signals += 1;
    if (signals === 1) {
      void shutdown(0, `${signal}: stopping gateway, collator, poller, emulator, then the servers`);
      return;
    }
    warn(`${signal} again: killing everything now`);
    for (const part of parts) part.kill?.();
    releaseLock();
    process.exit(130);
  });
}
process.on("uncaughtException", (err) => void shutdown(1, `dev failed: ${err.stack ?? err.message}`));
process.stdout.on("error", () => {}); // a closed pipe (e.g. `| head`) must not crash the stack

main().catch((err: unknown) => {
  const message = err instanceof DevError ? err.message : ((err as Error).stack ?? String(err));
  void shutdown(1, `could not start: ${message}`);
});
