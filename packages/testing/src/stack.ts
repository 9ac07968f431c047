import type { ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { loadCollatorConfig, type RunningCollator, startCollator } from "@batch-gpt/collator";
import { createLogger } from "@batch-gpt/config";
import { loadGatewayConfig, type RunningGateway, startGateway } from "@batch-gpt/gateway";
import { spawnNodeApp } from "@batch-gpt/local-services";
import { type StartedEmulator, startEmulator } from "@batch-gpt/openai-emulator";
import { loadPollerConfig, type RunningPoller, startPoller } from "@batch-gpt/poller";
import { openStore, type Store } from "@batch-gpt/store";
import OpenAI from "openai";
import { services, uniqueName } from "./services.ts";

export const ROOT = resolve(import.meta.dirname, "../../..");
const quiet = (app: string) => createLogger(app, process.env.TEST_LOG_LEVEL ?? "silent");

export interface StackOptions {
  /** Settings on top of the test defaults (short windows and intervals). */
  env?: Record<string, string>;
  batchDurationMs?: number;
  /** Redis and the MongoDB-compatible server to use instead of the run's shared ones. */
  services?: { redisUrl: string; mongoUri: string };
  /** The only keys the emulator takes (default: any). */
  emulatorApiKeys?: string[];
  gateways?: number;
  collators?: number;
  pollers?: number;
}

export interface Stack {
  env: Record<string, string>;
  emulator: StartedEmulator;
  gateways: RunningGateway[];
  collators: RunningCollator[];
  pollers: RunningPoller[];
  /** The official SDK pointed at the first gateway. */
  client: OpenAI;
  clientFor(gateway: RunningGateway, opts?: ConstructorParameters<typeof OpenAI>[0]): OpenAI;
  /** A direct view of the stack's database, for assertions. */
  store: Store;
  emulatorStats(): Promise<EmulatorStats>;
  control(path: string, body?: unknown, method?: string): Promise<Response>;
  startCollator(): Promise<RunningCollator>;
  startPoller(): Promise<RunningPoller>;
  close(): Promise<void>;
}

export interface EmulatorStats {
  filesUploaded: number;
  batchesCreated: number;
  linesSubmitted: number;
  realtimeRequests: number;
  batches: {
    id: string;
    endpoint: string;
    model: string;
    lines: number;
    status: string;
    metadata: Record<string, string>;
  }[];
}

/**
 * The whole system in this process against the emulator, on a database and queue prefix of its own.
 * Apps are started through their real composition roots with real Redis and Mongo connections.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const { redisUrl, mongoUri } = opts.services ?? services();
  const emulator = await startEmulator({
    batchDurationMs: opts.batchDurationMs ?? 400,
    ...(opts.emulatorApiKeys ? { apiKeys: opts.emulatorApiKeys } : {}),
  });
  const dbName = uniqueName("stack");
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    MONGODB_URI: mongoUri,
    MONGO_DATABASE: dbName,
    BULL_PREFIX: uniqueName("q"),
    OPENAI_API_KEY: "sk-emulator-test",
    OPENAI_BASE_URL: emulator.url,
    PORT: "0",
    COLLATE_BATCHES_FOR_DURATION_IN_MS: "300",
    COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: "100",
    COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS: "1",
    COLLATOR_STALE_RECORD_MS: "3000",
    COLLATOR_RECOVERY_INTERVAL_MS: "500",
    COLLATOR_JOB_LOCK_MS: "2000",
    POLL_JOB_LOCK_MS: "2000",
    TOKEN_LIMIT_RETRY_MS: "200",
    POLL_SWEEP_INTERVAL_MS: "1000",
    WAITER_RECHECK_MS: "1000",
    // Every collator's and poller's /metrics on a free port: several run at once.
    METRICS_PORT: "0",
    ...opts.env,
  };
  const store = await openStore(mongoUri, dbName);
  const gateways: RunningGateway[] = [];
  const collators: RunningCollator[] = [];
  const pollers: RunningPoller[] = [];
  const addCollator = async () => {
    const c = await startCollator(loadCollatorConfig(env), quiet("collator"));
    collators.push(c);
    return c;
  };
  const addPoller = async () => {
    const p = await startPoller(loadPollerConfig(env), quiet("poller"));
    pollers.push(p);
    return p;
  };
  for (let i = 0; i < (opts.gateways ?? 1); i++)
    gateways.push(await startGateway(loadGatewayConfig(env), quiet("gateway")));
  for (let i = 0; i < (opts.collators ?? 1); i++) await addCollator();
  for (let i = 0; i < (opts.pollers ?? 1); i++) await addPoller();

  const clientFor = (gateway: RunningGateway, extra: ConstructorParameters<typeof OpenAI>[0] = {}) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "sk-client", maxRetries: 0, ...extra });

  return {
    env,
    emulator,
    gateways,
    collators,
    pollers,
    client: clientFor(gateways[0]!),
    clientFor,
    store,
    async emulatorStats() {
      return (await (await fetch(`${emulator.origin}/_emulator/stats`)).json()) as EmulatorStats;
    },
    control(path, body, method = "POST") {
      return fetch(`${emulator.origin}/_emulator/${path}`, {
        method,
        headers: { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    },
    startCollator: addCollator,
    startPoller: addPoller,
    async close() {
      await Promise.allSettled(gateways.map((g) => g.close()));
      await Promise.allSettled(collators.map((c) => c.close()));
      await Promise.allSettled(pollers.map((p) => p.close()));
      await emulator.close();
      await store.mongo.db.dropDatabase().catch(() => {});
      await store.close();
    },
  };
}

export interface AppProcess {
  child: ChildProcess;
  output(): string;
  /** The exit code, or -1 when a signal ended it. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs an app as a separate process via its real entry point (for crash and restart tests). */
export function spawnApp(name: "gateway" | "collator" | "poller", env: Record<string, string>): AppProcess {
  let output = "";
  const app = spawnNodeApp({
    name,
    script: resolve(ROOT, "apps", name, "src", "main.ts"),
    env: { ...process.env, LOG_LEVEL: "info", METRICS_PORT: "0", ...env },
    onLine: (line) => {
      output += `${line}\n`;
    },
  });
  const exited = app.exited.then(({ code, signal }) => code ?? (signal ? -1 : null));
  return {
    child: app.child,
    output: () => output,
    exited,
    async stop(signal = "SIGTERM") {
      await app.stop({ signal });
      return exited;
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** The SDK error a call fails with; fails the test if the call succeeds or fails some other way. */
export async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}
