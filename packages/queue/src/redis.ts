import { Redis } from "ioredis";
import { admissionScripts } from "./admission.ts";
import { backlogScripts } from "./collate-backlog.ts";
import { inflightScripts } from "./inflight.ts";
import type { RedisScripts } from "./scripts.ts";

/** This package's scripts, on every connection. */
const QUEUE_SCRIPTS: RedisScripts = { ...inflightScripts, ...admissionScripts, ...backlogScripts };

/**
 * `worker` connections block and must wait out Redis restarts (BullMQ requires maxRetriesPerRequest:
 * null); `client` connections serve HTTP requests and fail fast so a caller gets an error, not a hang.
 * Every script the connection will run (this package's, and `scripts` of the caller's own) is defined
 * here, before its first command: a `client` connection pipelines each turn's commands, and a script
 * defined later is missing from a pipeline already built (see `scriptCommands`).
 */
export function createRedis(
  url: string,
  role: "worker" | "client" | "subscriber",
  scripts: RedisScripts = {},
): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: role === "client" ? 2 : null,
    enableAutoPipelining: role === "client",
    connectionName: `batch-gpt-${role}`,
    lazyConnect: false,
  });
  for (const name of Object.keys(scripts)) {
    if (name in QUEUE_SCRIPTS) throw new Error(`script ${name} is already one of the queue package's`);
  }
  for (const [name, script] of Object.entries({ ...QUEUE_SCRIPTS, ...scripts }))
    redis.defineCommand(name, script);
  return redis;
}
