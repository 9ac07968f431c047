import { type CollateJob, collateQueue, FORMAT_VERSION, newRequestId, redisKeys } from "@batch-gpt/contracts";
import { createRedis, Inflight, QueueRegistry } from "@batch-gpt/queue";
import { apiError, eventually, type Stack, services, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A job that cannot go through fails alone, and its callers are answered: one poisonous job never
// blocks its model's queue, and no queue retries for ever while callers wait.

const log = { error: () => {} };
let stack: Stack;
let pollStack: Stack;
let queues: QueueRegistry;
let redis: ReturnType<typeof createRedis>;
let inflight: Inflight;

beforeAll(async () => {
  [stack, pollStack] = await Promise.all([
    startStack({ env: { COLLATE_BATCHES_FOR_DURATION_IN_MS: "800" } }),
    startStack({ env: { POLL_MAX_ATTEMPTS: "2" } }),
  ]);
  queues = new QueueRegistry({ redisUrl: services().redisUrl, prefix: stack.env.BULL_PREFIX!, log });
  redis = createRedis(services().redisUrl, "client");
  inflight = new Inflight(redis, redisKeys(stack.env.BULL_PREFIX!));
});
afterAll(async () => {
  await queues?.close();
  redis?.disconnect();
  await Promise.all([stack?.close(), pollStack?.close()]);
});

const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });

/** A job as a gateway queues it, with a caller claiming its key (as the gateway does). */
async function queueJob(body: string, extra: Record<string, unknown> = {}) {
  const requestId = newRequestId();
  const key = `poison-${requestId}`;
  expect(await inflight.claim(key, requestId)).toBe(requestId);
  const job: CollateJob = {
    requestId,
    attempt: 0,
    owner: "anonymous",
    provider: "openai",
    endpoint: "/v1/chat/completions",
    model: "gpt-4o-mini",
    body,
    key,
    traceId: "poison",
    createdAt: Date.now(),
    v: FORMAT_VERSION,
  };
  await queues.producer(collateQueue).add({ ...job, ...extra } as CollateJob);
  return { requestId, key };
}

const errorOf = async (requestId: string) => {
  const outcome = await eventually(
    async () => (await stack.store.requests.outcome(requestId)) ?? undefined,
    30_000,
    "its outcome",
  );
  return { state: outcome.state, error: JSON.parse(outcome.answer.body).error };
};

describe("a collate job that cannot be recorded", () => {
  it("fails alone with an error to its callers; the rest of its group is batched and answered", async () => {
    // Queued before bodies were measured after decoding: 18 MB of text, more than MongoDB takes.
    const huge = JSON.stringify(chat("\uFFFD".repeat(6 * 1024 * 1024)));
    const poison = await queueJob(huge);
    const answer = await stack.client.chat.completions.create(chat("innocent neighbour"));
    expect(answer.choices[0]?.message.content).toBe("echo: innocent neighbour");
    expect(await errorOf(poison.requestId)).toMatchObject({
      state: "failed",
      error: { code: "request_not_stored" },
    });
    // Its key is free: an identical request starts afresh rather than attaching to a failure.
    expect(await inflight.leader(poison.key)).toBeNull();
    // And the model's queue goes on.
    const next = await stack.client.chat.completions.create(chat("the one after"));
    expect(next.choices[0]?.message.content).toBe("echo: the one after");
  });

  it("a malformed job is dropped, and its callers are told", async () => {
    const malformed = await queueJob("{}", { attempt: "first" });
    expect(await errorOf(malformed.requestId)).toMatchObject({
      state: "failed",
      error: { code: "malformed_job" },
    });
    expect(await inflight.leader(malformed.key)).toBeNull();
  });
});

describe("a batch the poller cannot follow", () => {
  it("fails its lines after POLL_MAX_ATTEMPTS failed checks, with an error to their callers", async () => {
    const faulted = await pollStack.control("faults", {
      target: "batches.retrieve",
      status: 500,
      times: 1000,
    });
    expect(faulted.status).toBe(200);
    const error = await apiError(pollStack.client.chat.completions.create(chat("never followed")));
    expect(error.status).toBe(502);
    expect(error.code).toBe("batch_untracked");
    await pollStack.control("faults", undefined, "DELETE");
  });
});
