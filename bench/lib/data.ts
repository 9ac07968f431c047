/**
 * What the bench reads and writes behind the apps' backs: a stack's MongoDB database (through the
 * app's own store, @batch-gpt/store) and Redis keys (under its prefix), the apps' JSON log lines, and
 * the clean-up of what a large scenario stored.
 */
import { readFileSync } from "node:fs";
import { createRedis } from "@batch-gpt/queue";
import { openStore, type Store } from "@batch-gpt/store";
import type { Services } from "./stack.ts";

/** The database a stack's apps use: the URI's path when it names one (it wins there too), else MONGO_DATABASE. */
export function databaseOf(services: Services, env: Record<string, string>): string {
  const path = new URL(services.mongoUri.replace(/^mongodb(\+srv)?:/, "http:")).pathname.slice(1);
  return decodeURIComponent(path) || env.MONGO_DATABASE!;
}

/** The app's store over a stack's database; close it when done. */
export function openStackStore(services: Services, env: Record<string, string>): Promise<Store> {
  return openStore(services.mongoUri, databaseOf(services, env));
}

/**
 * Drops a stack's database and deletes its Redis keys (everything under its prefix: queues, markers,
 * cached answers), so a scenario that stored tens of thousands of documents leaves nothing behind for
 * the next one. Only for stacks whose apps have stopped.
 */
export async function dropStackData(services: Services, env: Record<string, string>): Promise<void> {
  const store = await openStackStore(services, env);
  try {
    await store.mongo.db.dropDatabase();
  } finally {
    await store.close();
  }
  const redis = createRedis(services.redisUrl, "worker");
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${env.BULL_PREFIX}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    await redis.quit().catch(() => {});
  }
}

/** A pino log line of an app: its time (epoch ms), message and fields. */
export interface LogEvent {
  time: number;
  msg: string;
  [field: string]: unknown;
}

/** Parses one pino JSON line; null for anything else. */
export function parseLogLine(line: string): LogEvent | null {
  if (!line.startsWith("{")) return null;
  try {
    const event = JSON.parse(line) as LogEvent;
    return typeof event.time === "number" && typeof event.msg === "string" ? event : null;
  } catch {
    return null;
  }
}

/** Every line of a child's log file with message `msg`, in order. */
export function logEvents(file: string, msg: string): LogEvent[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map(parseLogLine)
    .filter((e): e is LogEvent => e !== null && e.msg === msg);
}

/**
 * When the poller saw each batch record reach a terminal status: the time it stored that status in
 * the record's history (`BatchStore.recordStatus`, right after fetching it from the provider), with the
 * time the batch was submitted (the history's first entry).
 */
export async function completionsSeen(
  store: Store,
): Promise<{ recordId: string; status: string | null; submittedAt: number; seenAt: number }[]> {
  const records = await store.mongo.collections.batches
    .find({}, { projection: { history: 1, status: 1 } })
    .toArray();
  const terminal = new Set(["completed", "failed", "expired", "cancelled"]);
  return records.map((r) => {
    const history = r.history ?? [];
    const seen = history.find((h) => terminal.has(h.status));
    return {
      recordId: r._id,
      status: r.status ?? null,
      submittedAt: history[0] ? new Date(history[0].at).getTime() : Number.NaN,
      seenAt: seen ? new Date(seen.at).getTime() : Number.NaN,
    };
  });
}
