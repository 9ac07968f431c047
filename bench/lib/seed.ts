/**
 * History for the `history` scenario: N earlier requests, answered and cached, written straight into
 * MongoDB and Redis the way the apps leave them once a batch has settled and the short-lived Redis
 * entries have expired. Going through the gateway would take hours at 200,000 on FerretDB.
 *
 * Per earlier request (shapes from packages/store and packages/contracts/src/records.ts):
 * - `requests`: the request (attempt 0), `answers`: its outcome (succeeded, the emulator's answer),
 *   `cache`: its answer by request key, `fences`: its line fence `line:<id>:0` held by its batch record;
 * - every other request came from an async call: a `calls` document pointing at it;
 * - per 1,000 requests, one batch record (`batches`, done, provider status completed, with its
 *   `creating` fence in `recordFences`; its line count, no line list: finished, it dropped it; no line
 *   manifest either: the poller drops it once the batch has settled);
 * - `meta`: the marks the apps leave (the cache's oldest entry, the record fences adopted);
 * - Redis: the `cached:<key>` marker a miss is answered from. Not the answer and call entries: they
 *   expire (ANSWER_REDIS_TTL_SECONDS, CALL_REDIS_TTL_SECONDS), and history is older than that. Nor the
 *   cache tier's entries, unless asked (`tierFirst`): the first requests' answers are then in the tier,
 *   as a read from MongoDB leaves a hot answer there for CACHE_REDIS_TTL_SECONDS (`cache-hits`).
 *
 * Keys come from the app's own `requestKey` (the bench client key's tenant) and
 * `redisKeys`; ids from `newRequestId` and friends. Written with insertMany of 1,000 per collection.
 */
import {
  CALL_ID_PREFIX,
  type CallDoc,
  FORMAT_VERSION,
  fenceIds,
  lineId,
  newBatchRecordId,
  newCallId,
  newRequestId,
  type OutcomeDoc,
  type RequestDoc,
  redisKeys,
  requestKey,
} from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { type BatchRecordDoc, type CacheRecord, META } from "@batch-gpt/store";
import { AUTH_HEADERS, BENCH_TENANT, CHAT_PATH, chatBody, chatText, MODEL } from "./bodies.ts";
import { openStackStore } from "./data.ts";
import type { Services } from "./stack.ts";

const CHUNK = 1000;
const ENDPOINT = "/v1/chat/completions" as const;
const TENANT = BENCH_TENANT;

/** The emulator's answer to a chat body (the same fields; ids and times are made up). */
export function answerBody(text: string, i: number, created: number): string {
  return JSON.stringify({
    id: `chatcmpl-hist${i.toString(36).padStart(20, "0")}`,
    object: "chat.completion",
    created,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: `echo: ${text}`, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: {
      prompt_tokens: 12,
      completion_tokens: 14,
      total_tokens: 26,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: "default",
  });
}

export interface SeedResult {
  requests: number;
  documents: number;
  redisKeys: number;
  seconds: number;
  /** The first earlier request: its body, the answer stored for it and the async call made for it. */
  sample: { body: string; answer: string; callId: string } | null;
}

/** How long a seeded tier entry lives: CACHE_REDIS_TTL_SECONDS's default, which the bench's stacks keep. */
const TIER_TTL_SECONDS = 3600;

/**
 * Writes `count` earlier requests into the stack's database and Redis prefix (see the file comment);
 * the answers of the first `tierFirst` are in Redis's cache tier too.
 */
export async function seedHistory(
  services: Services,
  env: { MONGO_DATABASE: string; BULL_PREFIX: string },
  count: number,
  tag: string,
  progress: (done: number) => void = () => {},
  { tierFirst = 0 }: { tierFirst?: number } = {},
): Promise<SeedResult> {
  const started = Date.now();
  const store = await openStackStore(services, env);
  const c = store.mongo.collections;
  const keys = redisKeys(env.BULL_PREFIX);
  const redis = createRedis(services.redisUrl, "worker");
  let documents = 0;
  let markers = 0;
  let sample: SeedResult["sample"] = null;
  // A day ago, spread over the hours before: history, not this run's work.
  const base = Date.now() - 24 * 3600_000;
  try {
    for (let from = 0; from < count; from += CHUNK) {
      const size = Math.min(CHUNK, count - from);
      const recordId = newBatchRecordId();
      const at = new Date(base + from * 50);
      const created = Math.floor(at.getTime() / 1000);
      const requests: RequestDoc[] = [];
      const answers: OutcomeDoc[] = [];
      const cache: CacheRecord[] = [];
      const calls: CallDoc[] = [];
      const fences = [];
      const pipeline = redis.pipeline();
      for (let i = from; i < from + size; i++) {
        const body = chatBody(tag, i);
        const key = requestKey(TENANT, ENDPOINT, JSON.parse(body) as Record<string, unknown>);
        const _id = newRequestId();
        const answer = answerBody(chatText(tag, i), i, created);
        requests.push({
          _id,
          owner: TENANT,
          provider: "openai",
          endpoint: ENDPOINT,
          model: MODEL,
          body,
          key,
          traceId: `trace-hist-${i}`,
          attempt: 0,
          createdAt: at,
          updatedAt: at,
        });
        answers.push({
          _id,
          state: "succeeded",
          answer: { statusCode: 200, body: answer },
          usage: JSON.stringify({ prompt_tokens: 12, completion_tokens: 14, total_tokens: 26 }),
          at,
        });
        // As the poller writes an entry: pointing at the request's stored outcome, its body not copied.
        cache.push({ _id: key, owner: TENANT, body: "", answerOf: _id, createdAt: at });
        fences.push({ _id: fenceIds.line(lineId(_id, 0)), holder: recordId, at });
        if (i % 2 === 0) {
          calls.push({
            _id: newCallId(CALL_ID_PREFIX[ENDPOINT]),
            requestId: _id,
            owner: TENANT,
            endpoint: ENDPOINT,
            createdAt: at,
          });
        }
        if (i === 0) sample = { body, answer, callId: calls[0]!._id };
        pipeline.set(keys.cached(key), "1");
        // As `CacheTier.putMany` writes an entry: when the answer was stored, then its body.
        if (i < tierFirst)
          pipeline.set(keys.cacheTier(key), `${at.getTime()}:${answer}`, "EX", TIER_TTL_SECONDS);
      }
      // A record's own fences live apart from the lines' (`recordFences`), as the apps write them.
      const recordFence = { _id: fenceIds.creating(recordId, 0), holder: "collator-history", at };
      const providerBatchId = `batch_hist${from.toString(36).padStart(24, "0")}`;
      const record: BatchRecordDoc = {
        _id: recordId,
        v: FORMAT_VERSION,
        provider: "openai",
        endpoint: ENDPOINT,
        model: MODEL,
        state: "done",
        // As BatchStore leaves a finished record: its line count only (see BatchRecordDoc).
        lineCount: size,
        generation: 0,
        owner: "collator-history",
        heartbeatAt: at,
        inputFileId: `file-hist${from}`,
        providerBatchId,
        providerCreatedAt: created,
        providerBatch: JSON.stringify({
          id: providerBatchId,
          object: "batch",
          endpoint: ENDPOINT,
          status: "completed",
          created_at: created,
          completed_at: created + 2,
          request_counts: { total: size, completed: size, failed: 0 },
        }),
        status: "completed",
        history: [
          { status: "validating", at },
          { status: "completed", at },
        ],
        createdAt: at,
        updatedAt: at,
      };
      const unordered = { ordered: false } as const;
      await Promise.all([
        c.requests.insertMany(requests, unordered),
        c.answers.insertMany(answers, unordered),
        c.cache.insertMany(cache, unordered),
        c.fences.insertMany(fences, unordered),
        c.recordFences.insertOne(recordFence),
        calls.length ? c.calls.insertMany(calls, unordered) : null,
        // No line manifest: the poller drops a record's once it has settled it (`BatchLines.drop`).
        c.batches.insertOne(record),
        pipeline.exec(),
      ]);
      documents += requests.length + answers.length + cache.length + fences.length + calls.length + 2;
      markers += size;
      progress(from + size);
    }
    // What a store the apps wrote holds besides (`META` in packages/store): its cache's oldest entry,
    // marked by the first collator that looked; the record fences of versions before the split,
    // adopted by the first worker that started.
    await c.meta.insertMany([
      { _id: META.cacheOldest, at: new Date(base) },
      { _id: META.fencesAdopted, at: new Date(base) },
    ]);
    documents += 2;
  } finally {
    await redis.quit().catch(() => {});
    await store.close();
  }
  return {
    requests: count,
    documents,
    redisKeys: markers + Math.min(tierFirst, count),
    seconds: (Date.now() - started) / 1000,
    sample,
  };
}

/**
 * Checks that the gateway answers the `i`th seeded body from its cache with the seeded answer, so
 * that a scenario measures the apps' own data, not a seed they cannot read.
 */
export async function expectCachedAnswer(
  gatewayUrl: string,
  tag: string,
  i: number,
  what: string,
): Promise<void> {
  const hit = await fetch(`${gatewayUrl}${CHAT_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-batch-mode": "cache", ...AUTH_HEADERS },
    body: chatBody(tag, i),
  });
  const text = await hit.text();
  const content = (JSON.parse(text) as { choices?: { message?: { content?: string } }[] }).choices?.[0]
    ?.message?.content;
  if (hit.status !== 200 || content !== `echo: ${chatText(tag, i)}`) {
    throw new Error(`the seed is not the apps' own: ${what} got ${hit.status} ${text.slice(0, 200)}`);
  }
}
