import { collateQueue, type QueuedModel } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";
import { type RedisScripts, scriptCommands } from "./scripts.ts";

// Counts the jobs of one range of a BullMQ list or sorted set by model, in Redis: only the counts come
// back, never the request bodies. KEYS[1] is the queue's list or set, ARGV[1] its kind, ARGV[2..3] the
// range, ARGV[4] the prefix of job hashes (`<prefix>:collate:`). A job's data is the job's JSON whose
// values are all scalars (the body is a string: its quotes are escaped), so the first `"model":"` is
// the job's own model field. Returns [ids read, model, count, model, count, …].
const COUNT_BY_MODEL = `
local ids
if ARGV[1] == 'list' then
  ids = redis.call('LRANGE', KEYS[1], ARGV[2], ARGV[3])
else
  ids = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[3])
end
local counts = {}
for _, id in ipairs(ids) do
  local data = redis.call('HGET', ARGV[4] .. id, 'data')
  local model = data and string.match(data, '"model":"(.-)"') or '?'
  counts[model] = (counts[model] or 0) + 1
end
local out = { #ids }
for model, n in pairs(counts) do
  out[#out + 1] = model
  out[#out + 1] = n
end
return out`;

interface BacklogCommand {
  batchGptCountByModel(
    key: string,
    kind: "list" | "zset",
    start: number,
    stop: number,
    jobPrefix: string,
  ): Promise<(string | number)[]>;
}

/** The backlog's script: every connection `createRedis` makes has it. */
export const backlogScripts: RedisScripts = {
  batchGptCountByModel: { numberOfKeys: 1, lua: COUNT_BY_MODEL },
};

/** Jobs read per script call: the script blocks Redis while it runs, so it runs in short steps. */
const STEP = 1000;

/**
 * Requests waiting to be collated, per model: waiting in the collate queue (BullMQ's `wait`, `paused`
 * and `prioritized`), held by a collator in a group not yet flushed (`active`: the collator fetches jobs
 * itself and keeps them locked until their batch is recorded), or waiting out a resubmission delay
 * (`delayed`). Read in steps of 1,000 jobs; while the queue moves the counts are approximate.
 */
export async function collateBacklog(redis: Redis, prefix: string): Promise<QueuedModel[]> {
  const command = scriptCommands<BacklogCommand>(redis, backlogScripts);
  const base = `${prefix}:${collateQueue.name}:`;
  const byModel = new Map<string, QueuedModel>();
  const sources = [
    { key: "wait", kind: "list", field: "waiting" },
    { key: "paused", kind: "list", field: "waiting" },
    { key: "prioritized", kind: "zset", field: "waiting" },
    { key: "active", kind: "list", field: "held" },
    { key: "delayed", kind: "zset", field: "delayed" },
  ] as const;
  for (const source of sources) {
    for (let start = 0; ; start += STEP) {
      const [read, ...pairs] = await command.batchGptCountByModel(
        base + source.key,
        source.kind,
        start,
        start + STEP - 1,
        base,
      );
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        const model = String(pairs[i]);
        let entry = byModel.get(model);
        if (!entry) {
          entry = { model, waiting: 0, held: 0, delayed: 0 };
          byModel.set(model, entry);
        }
        entry[source.field] += Number(pairs[i + 1]);
      }
      if (Number(read) < STEP) break;
    }
  }
  return [...byModel.values()].sort((a, b) => a.model.localeCompare(b.model));
}
