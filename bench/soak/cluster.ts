/**
 * The system under soak, every part a real process on loopback: Redis (append-only file, restartable on
 * its port), the MongoDB-compatible server (or MONGODB_URI), the OpenAI emulator, and gateways,
 * collators and pollers through their real entry points. Collators and pollers can be SIGKILLed and
 * replaced at any moment.
 */
import { join } from "node:path";
import { freePort, type LocalServer, startMongo, startRedis } from "@batch-gpt/local-services";
import { app, ROOT } from "../lib/paths.ts";
import type { Child, Scope } from "../lib/procs.ts";
import { waitForHttp } from "../lib/stack.ts";

export type Worker = "collator" | "poller";

/** Settings of the soak's stack: short windows and intervals, so recovery happens within the run. */
export const SOAK_SETTINGS = {
  // Long enough that a model's batch gathers several lines: on FerretDB every batch costs many writes.
  COLLATE_BATCHES_FOR_DURATION_IN_MS: "3000",
  COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: "300",
  COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS: "1",
  POLL_SWEEP_INTERVAL_MS: "3000",
  // A killed collator's jobs, and a killed poller's checks, are taken over within seconds (its records
  // after the soak's staleRecordMs).
  COLLATOR_RECOVERY_INTERVAL_MS: "2000",
  COLLATOR_JOB_LOCK_MS: "5000",
  POLL_JOB_LOCK_MS: "5000",
  WAITER_RECHECK_MS: "2000",
  // Expired and cancelled batches are part of the faults: their lines may be sent again more often.
  MAX_RESUBMITS: "10",
  LOG_LEVEL: "info",
  METRICS_PORT: "0",
};
export const EMULATOR_BATCH_MS = 1500;

export class Cluster {
  readonly #scope: Scope;
  readonly #dataDir: string;
  readonly #env: Record<string, string>;
  #redis: LocalServer | null = null;
  #redisPort = 0;
  #mongo: LocalServer | null = null;
  readonly #workers = { collator: [] as Child[], poller: [] as Child[] };
  readonly #started = { collator: 0, poller: 0 };
  gatewayUrls: string[] = [];
  emulatorUrl = "";
  redisUrl = "";
  mongoUri = "";
  readonly prefix: string;
  readonly database: string;

  constructor(scope: Scope, dataDir: string, runId: string) {
    this.#scope = scope;
    this.#dataDir = dataDir;
    this.prefix = `soak-${runId}`;
    this.database = `soak_${runId}`;
    this.#env = {};
  }

  get env(): Record<string, string> {
    return this.#env;
  }

  async start(counts: {
    gateways: number;
    collators: number;
    pollers: number;
    staleRecordMs: number;
  }): Promise<void> {
    this.#redisPort = await freePort();
    await this.#startRedis();
    this.mongoUri = process.env.MONGODB_URI ?? "";
    if (!this.mongoUri) {
      this.#mongo = await startMongo(join(this.#dataDir, "mongo"), join(ROOT, ".tools", "bin"));
      this.mongoUri = this.#mongo.url;
    }
    const emulatorPort = await freePort();
    const emulator = this.#scope.node("emulator", app("openai-emulator"), {
      env: {
        PATH: process.env.PATH ?? "",
        EMULATOR_PORT: String(emulatorPort),
        EMULATOR_HOST: "127.0.0.1",
        EMULATOR_BATCH_DURATION_MS: String(EMULATOR_BATCH_MS),
        EMULATOR_STATE_DIR: join(this.#dataDir, "emulator"),
      },
    });
    this.emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
    await waitForHttp(`${this.emulatorUrl}/healthz`, emulator);
    Object.assign(this.#env, {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      REDIS_URL: this.redisUrl,
      MONGODB_URI: this.mongoUri,
      MONGO_DATABASE: this.database,
      BULL_PREFIX: this.prefix,
      OPENAI_API_KEY: "sk-soak",
      OPENAI_BASE_URL: `${this.emulatorUrl}/v1`,
      ...SOAK_SETTINGS,
      COLLATOR_STALE_RECORD_MS: String(counts.staleRecordMs),
    });
    const starting: Promise<unknown>[] = [];
    for (let i = 0; i < counts.pollers; i++) starting.push(this.startWorker("poller"));
    for (let i = 0; i < counts.collators; i++) starting.push(this.startWorker("collator"));
    for (let g = 0; g < counts.gateways; g++) {
      const port = await freePort();
      const gateway = this.#scope.node(`gateway-${g + 1}`, app("gateway"), {
        env: { ...this.#env, PORT: String(port) },
      });
      const url = `http://127.0.0.1:${port}`;
      this.gatewayUrls.push(url);
      starting.push(waitForHttp(`${url}/readyz`, gateway));
    }
    await Promise.all(starting);
  }

  async #startRedis(): Promise<void> {
    this.#redis = await startRedis(join(this.#dataDir, "redis"), { persist: true, port: this.#redisPort });
    this.redisUrl = this.#redis.url;
  }

  /** Stops Redis (SIGTERM: its append-only file is complete) and starts it again on the same port and files. */
  async restartRedis(downMs: number): Promise<void> {
    await this.#redis?.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.#startRedis();
  }

  /** A new collator or poller; resolves once it says it started. */
  async startWorker(kind: Worker): Promise<Child> {
    this.#started[kind] += 1;
    const child = this.#scope.node(`${kind}-${this.#started[kind]}`, app(kind), { env: this.#env });
    await child.waitForLine(new RegExp(`${kind} started`), 60_000);
    // Listed (and so killable) once started: a kill must not be mistaken for a failed start.
    if (child.process.exitCode === null && child.process.signalCode === null) {
      this.#workers[kind].push(child);
      void child.exited.then(() => {
        const list = this.#workers[kind];
        const i = list.indexOf(child);
        if (i >= 0) list.splice(i, 1);
      });
    }
    return child;
  }

  /** The collators or pollers running now (started, not yet killed). */
  workers(kind: Worker): Child[] {
    return [...this.#workers[kind]];
  }

  /** SIGKILLs a worker's process group: no shutdown, no cleanup, as a crash or the OOM killer would. */
  kill(child: Child): void {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }

  async stop(): Promise<void> {
    await this.#scope.close(5000);
    await Promise.allSettled([this.#redis?.stop(), this.#mongo?.stop()]);
  }
}
