import { Redis } from "ioredis";

/**
 * `worker` connections block and must wait out Redis restarts (BullMQ requires maxRetriesPerRequest:
 * null); `client` connections serve HTTP requests and fail fast so a caller gets an error, not a hang.
 */
export function createRedis(url: string, role: "worker" | "client" | "subscriber"): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === "client" ? 2 : null,
    enableAutoPipelining: role === "client",
    connectionName: `batch-gpt-${role}`,
    lazyConnect: false,
  });
}
