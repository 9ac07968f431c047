/**
 * Store floors: how long the MongoDB-compatible server alone takes the documents a step of the apps
 * must write, through the store's own code (@batch-gpt/store), into a fresh database with nothing else
 * running. A scenario bound by those writes reports this as its baseline, measured in the same run on
 * the same server, so the table shows how much of its figure the store takes by itself.
 *
 * The fresh database gets the indexes a stack's apps create at start (gateway, collator, poller and the
 * poller's retention sweep), untimed: an index is kept up on every insert. It is dropped afterwards.
 */
import {
  type CollateJob,
  FORMAT_VERSION,
  fenceIds,
  lineId,
  newBatchRecordId,
  newRequestId,
  requestKey,
} from "@batch-gpt/contracts";
import type { Store } from "@batch-gpt/store";
import { BENCH_TENANT, chatBody, chatText, MODEL } from "./bodies.ts";
import { openStackStore } from "./data.ts";
import { answerBody } from "./seed.ts";
import type { Services } from "./stack.ts";

const ENDPOINT = "/v1/chat/completions" as const;

/**
 * Outcomes (and cache entries) per store call, and calls in flight at once, as the poller settles a
 * batch: `OutcomeRecorder.deliver` takes the lines a chunk of 500 at a time (apps/poller/src/poller.ts,
 * CHUNK), a few chunks at once (DELIVERIES_IN_FLIGHT). The store serialises the inserts anyway (one
 * SQLite writer); the calls in flight only let the next command be sent and decoded meanwhile.
 */
export const DELIVERY_CHUNK = 500;
export const DELIVERIES_IN_FLIGHT = 4;

let floors = 0;

/** A fresh database on the bench's server, with a stack's indexes; dropped when `fn` ends. */
async function inFreshDatabase<T>(services: Services, fn: (store: Store) => Promise<T>): Promise<T> {
  floors += 1;
  const env = { MONGO_DATABASE: `bench_floor_${process.pid}_${floors}_${Date.now().toString(36)}` };
  const store = await openStackStore(services, env);
  try {
    await store.ensureIndexes("gateway");
    await store.ensureIndexes("collator");
    await store.ensureIndexes("poller");
    await store.retention.ensureIndexes();
    return await fn(store);
  } finally {
    await store.mongo.db.dropDatabase().catch(() => {});
    await store.close();
  }
}

const secondsSince = (start: number) => (performance.now() - start) / 1000;

/** Runs `fn` on each chunk of `items`, `limit` chunks at once. */
async function inChunks<T>(items: T[], size: number, limit: number, fn: (chunk: T[]) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const chunk = items.slice(next, next + size);
      next += size;
      await fn(chunk);
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
}

export interface CollationFloor {
  lines: number;
  /** Seconds each step took, one after the other, as the collator does them. */
  requestsS: number;
  recordS: number;
  fencesS: number;
  manifestS: number;
  totalS: number;
  /** Documents written: the requests, the record, the line fences and the manifest's chunks. */
  documents: number;
}

/**
 * What the collator writes before it may create a batch of `jobs` (apps/collator/src/collator.ts,
 * `#record`): the request records (`requests.ensure`, with the jobs themselves), the batch record
 * (`batches.prepare`), a line fence per line (`fences.claimMany`, held by the record) and the line
 * manifest (`lines.write`). Not the jobs completed in Redis nor the file uploaded: the store's part only.
 */
export async function collationFloor(services: Services, jobs: CollateJob[]): Promise<CollationFloor> {
  return inFreshDatabase(services, async (store) => {
    const recordId = newBatchRecordId();
    const lines = jobs.map((j) => lineId(j.requestId, j.attempt));
    let start = performance.now();
    const refused = await store.requests.ensure(jobs);
    if (refused.size > 0) throw new Error(`store floor: ${refused.size} request records refused`);
    const requestsS = secondsSince(start);

    start = performance.now();
    const now = new Date();
    const first = jobs[0]!;
    await store.batches.prepare({
      _id: recordId,
      v: FORMAT_VERSION,
      provider: first.provider,
      endpoint: first.endpoint,
      model: first.model,
      state: "preparing",
      lines,
      generation: 0,
      owner: "collator-floor",
      heartbeatAt: now,
      inputFileId: null,
      providerBatchId: null,
      providerBatch: null,
      status: null,
      history: [],
      createdAt: now,
      updatedAt: now,
    });
    const recordS = secondsSince(start);

    start = performance.now();
    const won = await store.fences.claimMany(lines.map(fenceIds.line), recordId);
    if (won.size !== lines.length)
      throw new Error(`store floor: ${lines.length - won.size} line fences lost`);
    const fencesS = secondsSince(start);

    start = performance.now();
    await store.lines.write(
      recordId,
      jobs.map((j) => ({ requestId: j.requestId, attempt: j.attempt, key: j.key, owner: j.owner })),
    );
    const manifestS = secondsSince(start);
    const chunks = await store.mongo.collections.batchLines.countDocuments({ recordId });

    return {
      lines: jobs.length,
      requestsS,
      recordS,
      fencesS,
      manifestS,
      totalS: requestsS + recordS + fencesS + manifestS,
      documents: jobs.length + 1 + lines.length + chunks,
    };
  });
}

export interface SettlingFloor {
  lines: number;
  /** Seconds for the outcomes (`requests.finishMany`), then for the cache entries (`cache.putMany`). */
  outcomesS: number;
  cacheS: number;
  /** The outcomes and the cache entries: one per line each. */
  documents: number;
}

/**
 * What the poller writes to the store when an `n`-line batch of chat completions succeeds
 * (packages/pipeline/src/outcomes.ts, the bulk path): an outcome per line (`requests.finishMany`) and a
 * cache entry pointing at it (`cache.putMany`), over request records seeded first (untimed, as the
 * collator leaves them). The two are timed apart, each on its own, so the figures hold whatever order
 * or overlap the poller gives them. Answers are shaped as the OpenAI emulator's.
 */
export async function settlingFloor(services: Services, n: number, tag: string): Promise<SettlingFloor> {
  return inFreshDatabase(services, async (store) => {
    const created = Math.floor(Date.now() / 1000);
    const jobs: CollateJob[] = Array.from({ length: n }, (_, i) => {
      const body = chatBody(tag, i);
      return {
        requestId: newRequestId(),
        attempt: 0,
        owner: BENCH_TENANT,
        provider: "openai",
        endpoint: ENDPOINT,
        model: MODEL,
        body,
        key: requestKey(BENCH_TENANT, ENDPOINT, JSON.parse(body) as Record<string, unknown>),
        traceId: `bench-floor-${i}`,
        createdAt: Date.now(),
        v: FORMAT_VERSION,
      };
    });
    await store.requests.ensure(jobs);
    // Built before the clock starts: the poller has them from the result file it reads.
    const outcomes = jobs.map((j, i) => {
      const body = answerBody(chatText(tag, i), i, created);
      return {
        _id: j.requestId,
        state: "succeeded" as const,
        answer: { statusCode: 200, body },
        usage: JSON.stringify((JSON.parse(body) as { usage: unknown }).usage),
      };
    });
    const entries: Parameters<Store["cache"]["putMany"]>[0] = jobs.map((j, i) => ({
      _id: j.key,
      // As the poller writes it: pointing at the request's outcome (the store keeps only the pointer).
      answerOf: j.requestId,
      endpoint: ENDPOINT,
      model: MODEL,
      owner: j.owner,
      body: outcomes[i]!.answer.body,
      createdAt: new Date(),
    }));

    let start = performance.now();
    await inChunks(outcomes, DELIVERY_CHUNK, DELIVERIES_IN_FLIGHT, async (chunk) => {
      const { existing, refused } = await store.requests.finishMany(chunk);
      if (existing.size + refused.size > 0) throw new Error("store floor: outcomes not stored");
    });
    const outcomesS = secondsSince(start);

    start = performance.now();
    await inChunks(entries, DELIVERY_CHUNK, DELIVERIES_IN_FLIGHT, async (chunk) => {
      const refused = await store.cache.putMany(chunk);
      if (refused.size > 0) throw new Error("store floor: cache entries refused");
    });
    const cacheS = secondsSince(start);

    return { lines: n, outcomesS, cacheS, documents: 2 * n };
  });
}
