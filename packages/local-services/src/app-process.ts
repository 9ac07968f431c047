import { type ChildProcess, execFile, spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { killWhenParentDies } from "./process.ts";

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves once the process is gone (code 127 if it could not start). */
  readonly exited: Promise<ChildExit>;
  /** Sends `signal` (SIGTERM by default), then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ChildExit>;
}

/**
 * Node flags each app is started with: here for `dev`, the tests and the benchmarks; the Dockerfile
 * (NODE_OPTIONS, the gateway's in docker-compose.yml) and scripts/run.sh (`pnpm start:*`) repeat them.
 * V8 sizes the young generation from the machine's memory: up to 64 MB per semi-space (128 MB
 * resident) on a 24 GiB machine, where our apps, which keep little for long, need a few MB of it.
 * With 8 MB per semi-space the gateway, the collator and the poller each peaked about 100 MB lower
 * under the benchmarks. The gateway gets 16: in a burst of 3,000 sync calls, 8 MB promoted so many
 * live requests to the old generation that the last caller was answered about 1.4 s later (median of
 * three alternated runs, 7.5 s against 6.1), for 12 MiB less holding 10,000 callers (386 against 398).
 */
export const APP_NODE_FLAGS = {
  gateway: ["--max-semi-space-size=16"],
  worker: ["--max-semi-space-size=8"],
} as const;

/**
 * Node's compile cache for the apps (NODE_COMPILE_CACHE). Node 24 strips TypeScript's types with a
 * WebAssembly compiler that it loads at the first `.ts` file it reads and that then stays resident:
 * about 20 MB of every app's memory. With the cache, Node keeps each module's stripped code (and V8's
 * code cache) on disk and reads it back at the next start; once every file an app loads is there, the
 * compiler is never loaded. Measured idle RSS, cold cache then warm: collator and poller 150 → 127 MiB,
 * gateway 162 → 135. Node checks each entry against its file's content, so an edited file is stripped
 * again, never served stale. Every launcher sets it: `spawnNodeApp` (dev, tests, benchmarks) and
 * scripts/run.sh use this folder; the Dockerfile fills its own at build time (`BATCH_GPT_LOAD_ONLY`).
 */
export const COMPILE_CACHE_DIR = resolve(import.meta.dirname, "../../../.data/node-compile-cache");

/** `env` with NODE_COMPILE_CACHE set to `COMPILE_CACHE_DIR`, unless it names a cache (or "") itself. */
export function withCompileCache(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.NODE_COMPILE_CACHE === undefined ? { ...env, NODE_COMPILE_CACHE: COMPILE_CACHE_DIR } : env;
}

/**
 * Fills the compile cache for `scripts` (the apps' entry points, or any script that honours
 * BATCH_GPT_LOAD_ONLY): each loads its modules and exits, as the Dockerfile does at build, so that
 * their next starts are warm.
 */
export async function fillCompileCache(
  scripts: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  await Promise.all(
    scripts.map((script) =>
      promisify(execFile)(process.execPath, [script], {
        env: withCompileCache({ PATH: process.env.PATH ?? "", ...env, BATCH_GPT_LOAD_ONLY: "1" }),
        timeout: 60_000,
      }),
    ),
  );
}

/** The flags `app` is started with: the gateway's, or every other app's. */
export function appNodeFlags(app: string): readonly string[] {
  return app === "gateway" ? APP_NODE_FLAGS.gateway : APP_NODE_FLAGS.worker;
}

/**
 * Runs a Node script (an app's real entry point) as a child process, with the app's flags and the
 * compile cache (`withCompileCache`): the one spawner behind `dev`, the tests and the benchmarks. It leads its own process group (a terminal's Ctrl-C reaches only the parent, which stops
 * its children in order), a watchdog stops it if the parent dies even by SIGKILL, and every output
 * line goes to `onLine`.
 */
export function spawnNodeApp(opts: {
  /** The app's name ("gateway", "collator", …): it picks the app's Node flags (`appNodeFlags`). */
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  onLine?(line: string, stream: "stdout" | "stderr"): void;
  /** Called before SIGKILL when the process outlives its grace period. */
  onKill?(): void;
}): AppProcess {
  const child = spawn(process.execPath, [...appNodeFlags(opts.name), opts.script], {
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    env: withCompileCache(opts.env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const relay = (from: NodeJS.ReadableStream | null, stream: "stdout" | "stderr") => {
    if (!from) return;
    createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) =>
      opts.onLine?.(line, stream),
    );
  };
  relay(child.stdout, "stdout");
  relay(child.stderr, "stderr");

  const watchdog = killWhenParentDies(child.pid);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (code, signal) => {
      watchdog.stop();
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      opts.onLine?.(`could not start: ${err.message}`, "stderr");
      watchdog.stop();
      resolve({ code: 127, signal: null });
    });
  });

  return {
    name: opts.name,
    child,
    exited,
    async stop({ signal = "SIGTERM", graceMs = 25_000 } = {}) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => {
        opts.onKill?.();
        child.kill("SIGKILL");
      }, graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** "exited with code 1" / "was killed by SIGKILL". */
export function describeExit({ code, signal }: ChildExit): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}
