import { collateQueue } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { apiError, eventually, type Stack, startStack } from "@batch-gpt/testing";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A batch the provider refuses naming one line: that line fails alone, and its neighbours go back
// without spending their resubmissions (MAX_RESUBMITS), bounded by MAX_INNOCENT_RESUBMITS instead.
// And a request never appears twice in one batch file, even when its job's lock lapsed while held.

const INVALID = "[[invalid-line]]";
const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });

let spared: Stack;
let bounded: Stack;
let lapsing: Stack;
let redis: ReturnType<typeof createRedis>;
beforeAll(async () => {
  [spared, bounded, lapsing] = await Promise.all([
    // No resubmission may be spent: the innocent lines must go back all the same.
    startStack({ env: { MAX_RESUBMITS: "0", COLLATE_BATCHES_FOR_DURATION_IN_MS: "500" } }),
    // Resubmissions to spare, but none for lines failed by another line's refusal.
    startStack({
      env: { MAX_RESUBMITS: "3", MAX_INNOCENT_RESUBMITS: "0", COLLATE_BATCHES_FOR_DURATION_IN_MS: "500" },
    }),
    // A long window, flushed by hand; held jobs' locks last a second.
    startStack({ env: { COLLATE_BATCHES_FOR_DURATION_IN_MS: "60000", COLLATOR_JOB_LOCK_MS: "1000" } }),
  ]);
  redis = createRedis(lapsing.env.REDIS_URL!, "client");
});
afterAll(async () => {
  await redis?.quit();
  await Promise.all([spared?.close(), bounded?.close(), lapsing?.close()]);
});

/** Sends the three requests at once, so that they share one batch; each call's result or error. */
async function threeInOneBatch(on: Stack, tag: string) {
  const calls = [`${tag} one`, `${tag} poison ${INVALID}`, `${tag} two`].map((text) =>
    on.client.chat.completions.create(chat(text)),
  );
  await Promise.allSettled(calls);
  return calls;
}

describe("a batch refused by its validation, naming a line", () => {
  it("fails only that line; the others are answered without spending MAX_RESUBMITS", async () => {
    const [one, poison, two] = await threeInOneBatch(spared, "spared");
    const refused = await apiError(poison!);
    expect(refused.status).toBe(400);
    expect(refused.code).toBe("invalid_request");
    expect((await one!).choices[0]?.message.content).toBe("echo: spared one");
    expect((await two!).choices[0]?.message.content).toBe("echo: spared two");
    const stats = await spared.emulatorStats();
    // The three went together once, the two innocent ones again without the culprit.
    expect(stats.batches.map((b) => [b.lines, b.status])).toEqual([
      [3, "failed"],
      [2, "completed"],
    ]);
  });

  it("sends innocent lines again at most MAX_INNOCENT_RESUBMITS times (here none)", async () => {
    const [one, poison, two] = await threeInOneBatch(bounded, "bounded");
    expect((await apiError(poison!)).code).toBe("invalid_request");
    for (const innocent of [one!, two!]) {
      const error = await apiError(innocent);
      expect(error.status).toBe(500);
      expect(error.code).toBe("batch_failed");
      expect(error.message).toContain("another request");
    }
    expect((await bounded.emulatorStats()).batches).toHaveLength(1);
  });
});

describe("a held job whose lock lapsed", () => {
  it("is one line of its batch, not two", async () => {
    const url = lapsing.gateways[0]!.url;
    const prefix = `${lapsing.env.BULL_PREFIX}:${collateQueue.name}`;
    const accepted = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify(chat("held twice")),
    });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    const jobId = await eventually(
      async () => (await redis.lrange(`${prefix}:active`, 0, -1))[0],
      30_000,
      "the collator to hold the job",
    );
    // The lock lapses (a paused process, a slow Redis): BullMQ's stalled check hands the job back to
    // the queue, and the collator, still holding it, fetches it again.
    await redis.del(`${prefix}:${jobId}:lock`);
    await eventually(
      async () =>
        Number(await redis.hget(`${prefix}:${jobId}`, "stc")) >= 1 &&
        (await redis.lrange(`${prefix}:active`, 0, -1)).includes(jobId) &&
        (await redis.exists(`${prefix}:${jobId}:lock`)) === 1,
      30_000,
      "the job to be fetched again",
    );
    const flushed = await fetch(`${url}/admin/api/flush`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(flushed.status).toBe(200);
    const batches = await eventually(async () => {
      const { batches } = await lapsing.emulatorStats();
      return (
        batches.length > 0 && batches.every((b) => ["completed", "failed"].includes(b.status)) && batches
      );
    });
    expect(batches.map((b) => [b.lines, b.status])).toEqual([[1, "completed"]]);
    const answer = await eventually(async () => {
      const res = await fetch(`${url}/v1/requests/${id}`);
      return res.status === 200
        ? ((await res.json()) as { choices: { message: { content: string } }[] })
        : false;
    });
    expect(answer.choices[0]?.message.content).toBe("echo: held twice");
    expect((await lapsing.emulatorStats()).linesSubmitted).toBe(1);
  });
});
