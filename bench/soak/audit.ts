/**
 * After the soak: what the provider executed (read back from the emulator's batch files), what the
 * store recorded, and what Redis still holds, checked against what the callers got.
 */
import { QUEUE_CATALOG, redisKeys } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { openStore } from "@batch-gpt/store";
import type { CallRecord } from "./traffic.ts";

type Json = Record<string, unknown>;

export interface ProviderAudit {
  batches: number;
  /** Batches by their final status at the provider. */
  byStatus: Record<string, number>;
  /** Request lines in every batch file uploaded, failed and expired batches included. */
  linesReceived: number;
  /** Lines the provider executed (answered or a model error): what is billed. */
  linesExecuted: number;
  /** Lines left unexecuted by an expired or cancelled batch (sent again by the system). */
  linesUnexecuted: number;
  /** Request ids (custom_id) executed more than once: billed twice. */
  billedTwice: string[];
  /** Bodies (tags) executed more than once, under any request id. */
  bodiesBilledTwice: string[];
  /** A custom_id twice in one batch file. */
  duplicateInFile: number;
  executedByTag: Map<string, number>;
  executedIds: Set<string>;
}

async function api(emulator: string, path: string): Promise<Response> {
  const res = await fetch(`${emulator}${path}`, { headers: { authorization: "Bearer sk-soak" } });
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
  return res;
}

const TAG = /soak (\S+):/;

/** Reads every batch back from the emulator: its input lines and which of them it executed. */
export async function auditProvider(emulator: string): Promise<ProviderAudit> {
  const stats = (await (await api(emulator, "/_emulator/stats")).json()) as { batches: { id: string }[] };
  const out: ProviderAudit = {
    batches: stats.batches.length,
    byStatus: {},
    linesReceived: 0,
    linesExecuted: 0,
    linesUnexecuted: 0,
    billedTwice: [],
    bodiesBilledTwice: [],
    duplicateInFile: 0,
    executedByTag: new Map(),
    executedIds: new Set(),
  };
  const executedById = new Map<string, number>();
  for (const { id } of stats.batches) {
    const batch = (await (await api(emulator, `/v1/batches/${id}`)).json()) as Json;
    const status = String(batch.status);
    out.byStatus[status] = (out.byStatus[status] ?? 0) + 1;
    const tagOf = new Map<string, string>();
    const input = await (await api(emulator, `/v1/files/${batch.input_file_id}/content`)).text();
    for (const line of input.split("\n")) {
      if (!line.trim()) continue;
      out.linesReceived += 1;
      const parsed = JSON.parse(line) as { custom_id: string; body: unknown };
      if (tagOf.has(parsed.custom_id)) out.duplicateInFile += 1;
      tagOf.set(parsed.custom_id, TAG.exec(JSON.stringify(parsed.body))?.[1] ?? "?");
    }
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (typeof fileId !== "string") continue;
      const text = await (await api(emulator, `/v1/files/${fileId}/content`)).text();
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        const result = JSON.parse(line) as { custom_id: string; response: Json | null };
        // A line with a response ran (answered, or the model's own error); the others were never run.
        if (!result.response) {
          out.linesUnexecuted += 1;
          continue;
        }
        out.linesExecuted += 1;
        out.executedIds.add(result.custom_id);
        executedById.set(result.custom_id, (executedById.get(result.custom_id) ?? 0) + 1);
        const tag = tagOf.get(result.custom_id) ?? "?";
        out.executedByTag.set(tag, (out.executedByTag.get(tag) ?? 0) + 1);
      }
    }
  }
  out.billedTwice = [...executedById].filter(([, n]) => n > 1).map(([id]) => id);
  out.bodiesBilledTwice = [...out.executedByTag].filter(([, n]) => n > 1).map(([tag]) => tag);
  return out;
}

export interface StoreAudit {
  requests: number;
  outcomes: number;
  /** Requests with no outcome: never answered (orphans). */
  withoutOutcome: string[];
  /** Requests recorded that the provider never executed, with the error code of their outcome. */
  notExecuted: Record<string, number>;
  /** Lines the provider executed for a request id the store does not know. */
  executedUnrecorded: string[];
  /** Batch records not `done`. */
  unfinishedRecords: string[];
}

export async function auditStore(
  mongoUri: string,
  database: string,
  executedIds: Set<string>,
): Promise<StoreAudit> {
  const store = await openStore(mongoUri, database);
  try {
    const c = store.mongo.collections;
    const requests = await c.requests.find({}, { projection: { _id: 1 } }).toArray();
    const outcomes = await c.answers.find({}, { projection: { _id: 1, answer: 1 } }).toArray();
    const records = await c.batches.find({}, { projection: { _id: 1, state: 1 } }).toArray();
    const outcomeOf = new Map(outcomes.map((o) => [o._id, o as unknown as Json]));
    const requestIds = new Set(requests.map((r) => r._id));
    const notExecuted: Record<string, number> = {};
    for (const id of requestIds) {
      if (executedIds.has(id) || !outcomeOf.has(id)) continue;
      const answer = outcomeOf.get(id)?.answer as Json | undefined;
      const body = answer?.body as Json | string | undefined;
      let code = "answered without a line";
      try {
        const parsed = typeof body === "string" ? (JSON.parse(body) as Json) : body;
        const error = parsed?.error as Json | undefined;
        if (error) code = String(error.code ?? error.type ?? "error");
      } catch {
        // keep the default
      }
      notExecuted[code] = (notExecuted[code] ?? 0) + 1;
    }
    return {
      requests: requestIds.size,
      outcomes: outcomes.length,
      withoutOutcome: [...requestIds].filter((id) => !outcomeOf.has(id)),
      notExecuted,
      executedUnrecorded: [...executedIds].filter((id) => !requestIds.has(id)),
      unfinishedRecords: records.filter((r) => r.state !== "done").map((r) => `${r._id} (${r.state})`),
    };
  } finally {
    await store.close();
  }
}

export interface RedisAudit {
  keys: number;
  /** Jobs still queued, by queue and list. */
  jobsLeft: Record<string, number>;
  /** Job hashes of a queue that no list holds: orphan jobs. */
  orphanJobs: string[];
  /** Keys without an expiry that are not one of the deployment's fixed keys. */
  unbounded: string[];
  /** Admission control's count of requests and bytes waiting for a collator: 0 once nothing waits. */
  admitted: { requests: number; bytes: number };
}

/** BullMQ's own keys of a queue: fixed, one each, whatever the load. */
const BULL_FIXED = new Set([
  "meta",
  "id",
  "events",
  "stalled-check",
  "stalled",
  "marker",
  "wait",
  "active",
  "delayed",
  "paused",
  "completed",
  "failed",
  "prioritized",
  "pc",
  "limiter",
  "repeat",
  "waiting-children",
]);

export async function auditRedis(redisUrl: string, prefix: string): Promise<RedisAudit> {
  const redis = createRedis(redisUrl, "client");
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    const jobsLeft: Record<string, number> = {};
    const orphanJobs: string[] = [];
    const unbounded: string[] = [];
    const names = redisKeys(prefix);
    // One key each, whatever the load: their size is checked below or does not grow.
    const fixed = new Set([
      names.keysVersion,
      names.admitted,
      names.admittedBytes,
      `${prefix}:admin:counters`,
    ]);
    const admitted = {
      requests: await redis.hlen(names.admitted),
      bytes: Number((await redis.get(names.admittedBytes)) ?? 0),
    };
    const queues = QUEUE_CATALOG.map((q) => q.name as string);
    for (const queue of queues) {
      const base = `${prefix}:${queue}`;
      for (const list of ["wait", "active", "paused"]) {
        const n = await redis.llen(`${base}:${list}`);
        if (n > 0) jobsLeft[`${queue}:${list}`] = n;
      }
      for (const set of ["delayed", "prioritized", "failed", "waiting-children"]) {
        const n = await redis.zcard(`${base}:${set}`);
        if (n > 0) jobsLeft[`${queue}:${set}`] = n;
      }
    }
    for (const key of keys) {
      const rest = key.slice(prefix.length + 1);
      const [first = "", ...more] = rest.split(":");
      const ttl = await redis.pttl(key);
      if (queues.includes(first)) {
        const tail = more.join(":");
        if (BULL_FIXED.has(tail) || tail.startsWith("metrics:") || tail.startsWith("de:")) continue;
        // A job's hash (its id is the tail): a job nobody holds any more once the queues are empty.
        if (!tail.endsWith(":lock") && (await redis.type(key)) === "hash") orphanJobs.push(key);
        else if (ttl === -1) unbounded.push(key);
        continue;
      }
      if (ttl === -1 && !fixed.has(key)) unbounded.push(key);
    }
    return { keys: keys.length, jobsLeft, orphanJobs, unbounded, admitted };
  } finally {
    redis.disconnect();
  }
}

/** What the callers got, by outcome. */
export function tally(calls: CallRecord[]): Record<CallRecord["outcome"], number> {
  const out = {
    pending: 0,
    answered: 0,
    "error-answer": 0,
    "cache-miss": 0,
    unavailable: 0,
    "queue-full": 0,
    wrong: 0,
    lost: 0,
  };
  for (const c of calls) out[c.outcome] += 1;
  return out;
}
