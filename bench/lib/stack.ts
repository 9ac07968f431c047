/**
 * The system under test, as `npm run dev` runs it: the OpenAI emulator, then the poller, collator and
 * gateway, each a child process through its real entry point (`apps/<name>/src/main.ts`) configured by
 * environment variables, on a database and queue prefix of their own.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { heapSchema } from "@batch-gpt/config";
import { APP_NODE_FLAGS, freePort, withCompileCache } from "@batch-gpt/local-services";
import { BENCH_KEY } from "./bodies.ts";
import { app, child } from "./paths.ts";
import type { Child, Scope } from "./procs.ts";

export interface Services {
  redisUrl: string;
  mongoUri: string;
  /** The servers' processes, when the bench started them: both, then each one's. */
  serverPids: number[];
  redisPids: number[];
  mongoPids: number[];
}

/** The bench's explicit settings (the rest are the apps' defaults). */
export const BENCH_SETTINGS = {
  /** The collation window, and the emulator's batch duration: together the end-to-end floor. */
  windowMs: 400,
  batchDurationMs: 1500,
  firstPollMs: 200,
  maxPollIntervalS: 1,
};

export interface StackOptions {
  /** Settings on top of the bench's. */
  env?: Record<string, string>;
  batchDurationMs?: number;
  /** Gateway processes sharing the one collator, poller and store (default 1). */
  gateways?: number;
}

export interface Stack {
  /** e.g. http://127.0.0.1:PORT (add /v1 for the SDKs): the first gateway's. */
  gatewayUrl: string;
  gateway: Child;
  /** Every gateway (`gateways` of them), and their URLs in the same order. */
  gateways: Child[];
  gatewayUrls: string[];
  collator: Child;
  poller: Child;
  emulator: Child;
  /** The gateways, collator and poller processes. */
  apps: Child[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

let stacks = 0;

/** Resolves once `url` answers 200; fails if `proc` exits first or time runs out. */
export async function waitForHttp(url: string, proc: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void proc.exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`${proc.name} exited before it answered ${url}; see ${proc.logFile}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${proc.name} did not answer ${url} within ${timeoutMs} ms; see ${proc.logFile}`);
}

export async function startStack(scope: Scope, services: Services, opts: StackOptions = {}): Promise<Stack> {
  stacks += 1;
  const id = `${process.pid}_${stacks}_${Date.now().toString(36)}`;
  const suffix = stacks === 1 ? "" : `-${stacks}`;
  const emulatorPort = await freePort();
  const emulator = scope.node(`emulator${suffix}`, app("openai-emulator"), {
    env: withCompileCache({
      PATH: process.env.PATH ?? "",
      EMULATOR_PORT: String(emulatorPort),
      EMULATOR_HOST: "127.0.0.1",
      EMULATOR_BATCH_DURATION_MS: String(opts.batchDurationMs ?? BENCH_SETTINGS.batchDurationMs),
    }),
  });
  await waitForHttp(`http://127.0.0.1:${emulatorPort}/healthz`, emulator);

  const env: Record<string, string> = {
    REDIS_URL: services.redisUrl,
    MONGODB_URI: services.mongoUri,
    MONGO_DATABASE: `bench_${id}`,
    BULL_PREFIX: `bench-${id}`,
    OPENAI_API_KEY: "sk-bench",
    // Client keys and quotas on, as in a deployment (the quotas far above the load: their cost is
    // measured, not their refusals).
    GATEWAY_API_KEYS: BENCH_KEY,
    DEFAULT_KEY_RPM: "1000000000",
    DEFAULT_KEY_MAX_PENDING: "100000000",
    OPENAI_BASE_URL: `http://127.0.0.1:${emulatorPort}/v1`,
    LOG_LEVEL: "info",
    COLLATE_BATCHES_FOR_DURATION_IN_MS: String(BENCH_SETTINGS.windowMs),
    COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: String(BENCH_SETTINGS.firstPollMs),
    COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS: String(BENCH_SETTINGS.maxPollIntervalS),
    // The collator's and poller's /metrics on free ports (several stacks may run at once).
    METRICS_PORT: "0",
    ...opts.env,
  };
  // Only these settings: whatever else is in the bench's environment must not change the figures.
  const appEnv = withCompileCache({
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    // For profiling the apps under the bench's load (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
    ...(process.env.BENCH_APP_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_APP_NODE_OPTIONS } : {}),
    ...env,
  });
  // Started as every launcher starts them (dev, the tests, the Docker image): their flags, the compile cache.
  const poller = scope.node(`poller${suffix}`, app("poller"), { env: appEnv, flags: APP_NODE_FLAGS.worker });
  const collator = scope.node(`collator${suffix}`, app("collator"), {
    env: appEnv,
    flags: APP_NODE_FLAGS.worker,
  });
  const gateways: Child[] = [];
  const gatewayUrls: string[] = [];
  for (let g = 0; g < (opts.gateways ?? 1); g++) {
    const port = await freePort();
    const name = `gateway${suffix}${g === 0 ? "" : `-g${g + 1}`}`;
    gateways.push(
      scope.node(name, app("gateway"), {
        env: { ...appEnv, PORT: String(port) },
        flags: APP_NODE_FLAGS.gateway,
      }),
    );
    gatewayUrls.push(`http://127.0.0.1:${port}`);
  }
  await Promise.all([
    poller.waitForLine(/poller started/, 60_000),
    collator.waitForLine(/collator started/, 60_000),
    ...gateways.map((g, i) => waitForHttp(`${gatewayUrls[i]}/readyz`, g)),
  ]);
  return {
    gatewayUrl: gatewayUrls[0]!,
    gateway: gateways[0]!,
    gateways,
    gatewayUrls,
    collator,
    poller,
    emulator,
    apps: [...gateways, collator, poller],
    env: { ...env, PORT: new URL(gatewayUrls[0]!).port },
    async stop() {
      await Promise.all(gateways.map((g) => g.stop()));
      await Promise.all([collator.stop(), poller.stop()]);
      await emulator.stop();
    },
  };
}

/**
 * The bare Hono server of the baselines, in its own process, with the gateway's Node memory settings
 * (its flags, and the heap pace it sets itself as the apps do), so a comparison of memory is one of code.
 */
export async function startEcho(scope: Scope, name = "echo"): Promise<{ url: string; server: Child }> {
  const port = await freePort();
  const server = scope.node(name, child("echo-server"), {
    // As the gateway runs: its flags and the compile cache.
    env: withCompileCache({
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      HEAP_GROWING_PERCENT: String(heapSchema.shape.HEAP_GROWING_PERCENT.parse(undefined)),
    }),
    flags: APP_NODE_FLAGS.gateway,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, server);
  return { url, server };
}
