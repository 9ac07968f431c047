import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { type RunningProcess, startProcess, waitForPort } from "./process.ts";

/** How long the embedded FerretDB's SQLite waits for a write lock before it answers SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 60_000;

export interface LocalServer {
  readonly url: string;
  readonly kind: string;
  /** Its process (which leads its own process group). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

function onPath(binary: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function launch(
  kind: string,
  command: string,
  args: (port: number) => string[],
  dataDir: string,
  url: (port: number) => string,
  port?: number,
): Promise<LocalServer> {
  mkdirSync(dataDir, { recursive: true });
  const chosen = port ?? (await freePort());
  const logFile = join(dataDir, `${kind}.log`);
  const proc: RunningProcess = startProcess(command, args(chosen), logFile);
  await waitForPort(chosen, proc, kind, logFile);
  return { url: url(chosen), kind, pid: proc.child.pid, stop: () => proc.stop() };
}

/** redis-server on loopback. `persist` keeps an append-only file in dataDir (dev); tests run without. */
export function startRedis(
  dataDir: string,
  opts: { persist?: boolean; port?: number } = {},
): Promise<LocalServer> {
  const binary = onPath("redis-server");
  if (!binary) throw new Error("redis-server is not installed: run `npm run setup`, or set REDIS_URL");
  return launch(
    "redis",
    binary,
    (port) => [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dataDir,
      "--save",
      "",
      "--appendonly",
      opts.persist ? "yes" : "no",
      "--maxmemory-policy",
      "noeviction",
    ],
    dataDir,
    (port) => `redis://127.0.0.1:${port}`,
    opts.port,
  );
}

/**
 * A MongoDB-wire server on loopback: a real `mongod` when one is on PATH, else FerretDB v1 (SQLite backend)
 * from .tools/bin. FerretDB is reached without credentials: v1 rejects the driver's default SCRAM auth.
 */
export function startMongo(
  dataDir: string,
  toolsBin: string,
  opts: { port?: number } = {},
): Promise<LocalServer> {
  const mongod = onPath("mongod");
  if (mongod) {
    return launch(
      "mongod",
      mongod,
      (port) => ["--dbpath", dataDir, "--port", String(port), "--bind_ip", "127.0.0.1", "--quiet"],
      dataDir,
      (port) => `mongodb://127.0.0.1:${port}/`,
      opts.port,
    );
  }
  const local = join(toolsBin, "ferretdb");
  const ferretdb = existsSync(local) ? local : onPath("ferretdb");
  if (!ferretdb) throw new Error("no mongod and no FerretDB: run `npm run setup`, or set MONGODB_URI");
  return launch(
    "ferretdb",
    ferretdb,
    (port) => [
      "--handler=sqlite",
      // FerretDB's default is 10 s. A write waiting behind a long one past that fails with
      // SQLITE_BUSY, and every failure is retried (a flush, a heartbeat, a poll): under a burst, the
      // retries added to the load and the whole system slowed to a crawl. Waiting longer costs nothing.
      `--sqlite-url=file:${dataDir}/?_pragma=busy_timeout(${SQLITE_BUSY_TIMEOUT_MS})`,
      `--listen-addr=127.0.0.1:${port}`,
      `--state-dir=${dataDir}`,
      "--telemetry=disable",
      "--debug-addr=-",
      "--log-level=warn",
    ],
    dataDir,
    (port) => `mongodb://127.0.0.1:${port}/`,
    opts.port,
  );
}
