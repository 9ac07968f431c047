import { collateQueue } from "@batch-gpt/contracts";
import { createRedis } from "@batch-gpt/queue";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Admission control: queued jobs carry whole bodies and Redis runs with `noeviction`, so a backlog
// (the collator down) must not fill it. Past MAX_QUEUED_REQUESTS or MAX_QUEUED_BYTES, new requests
// get OpenAI's 429 at once; the collator holds at most COLLATOR_MAX_HELD_BYTES of requests and
// COLLATOR_MAX_FLUSHES flushes at once, and the rest waits in Redis.

const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });

let byCount: Stack;
let byBytes: Stack;
let held: Stack;
let redis: ReturnType<typeof createRedis>;
beforeAll(async () => {
  [byCount, byBytes, held] = await Promise.all([
    // No collator: nothing leaves the queue until the test starts one.
    startStack({ collators: 0, env: { MAX_QUEUED_REQUESTS: "3" } }),
    startStack({ collators: 0, env: { MAX_QUEUED_BYTES: "20000" } }),
    // A long window, flushed only when the collator's memory is full.
    startStack({
      env: {
        COLLATE_BATCHES_FOR_DURATION_IN_MS: "60000",
        COLLATOR_MAX_HELD_BYTES: "20000",
        COLLATOR_MAX_FLUSHES: "1",
      },
    }),
  ]);
  redis = createRedis(held.env.REDIS_URL!, "client");
});
afterAll(async () => {
  await redis?.quit();
  await Promise.all([byCount?.close(), byBytes?.close(), held?.close()]);
});

function post(on: Stack, body: object, mode: "async" | "sync" = "async") {
  return fetch(`${on.gateways[0]!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-batch-mode": mode },
    body: JSON.stringify(body),
  });
}

async function expectQueueFull(res: Response) {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  const { error } = (await res.json()) as { error: Record<string, unknown> };
  expect(error).toMatchObject({ type: "requests", code: "queue_full", param: null });
  expect(error.message).toEqual(expect.any(String));
}

async function answered(on: Stack, id: string) {
  return eventually(async () => {
    const res = await fetch(`${on.gateways[0]!.url}/v1/requests/${id}`);
    return res.status === 200
      ? ((await res.json()) as { choices: { message: { content: string } }[] })
      : false;
  }, 60_000);
}

describe("admission", () => {
  it("refuses new requests past MAX_QUEUED_REQUESTS at once, and takes them again once the queue drains", async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await post(byCount, chat(`queued ${n}`));
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await expectQueueFull(await post(byCount, chat("one too many")));
    // A sync caller is not held on a full queue either.
    await expectQueueFull(await post(byCount, chat("one too many, held"), "sync"));
    // An identical request attaches to one already queued: it takes no room.
    expect((await post(byCount, chat("queued 1"))).status).toBe(202);

    await byCount.startCollator();
    for (const [i, id] of ids.entries()) {
      expect((await answered(byCount, id)).choices[0]?.message.content).toBe(`echo: queued ${i + 1}`);
    }
    const later = await post(byCount, chat("after the drain"));
    expect(later.status).toBe(202);
    const { id } = (await later.json()) as { id: string };
    expect((await answered(byCount, id)).choices[0]?.message.content).toBe("echo: after the drain");
  });

  it("refuses new requests past MAX_QUEUED_BYTES", async () => {
    const big = (n: number) => chat(`${n} ${"x".repeat(8000)}`);
    expect((await post(byBytes, big(1))).status).toBe(202);
    expect((await post(byBytes, big(2))).status).toBe(202);
    await expectQueueFull(await post(byBytes, big(3)));
    // A small one still fits.
    expect((await post(byBytes, chat("small"))).status).toBe(202);
  });
});

describe("the collator's memory", () => {
  it("holds at most COLLATOR_MAX_HELD_BYTES and COLLATOR_MAX_FLUSHES flushes; the rest waits in Redis", async () => {
    // The first flush's upload hangs: that flush stays in flight.
    expect((await held.control("faults", { target: "files.create", delayMs: 600_000 })).status).toBe(200);
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) {
      const res = await post(held, chat(`held ${n} ${"y".repeat(4000)}`));
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const prefix = `${held.env.BULL_PREFIX}:${collateQueue.name}`;
    let most = 0;
    const sample = async () => {
      const active = await redis.llen(`${prefix}:active`);
      most = Math.max(most, active);
      return active;
    };
    // Held up to its limit, it flushed what it held; that flush is uploading, and no second one starts.
    await eventually(
      async () =>
        (await sample()) >= 0 &&
        ((await (await held.control("faults", undefined, "GET")).json()) as { pending: unknown[] }).pending
          .length === 0,
      30_000,
      "the first flush to upload",
    );
    for (let i = 0; i < 20; i++) {
      await sample();
      await new Promise((r) => setTimeout(r, 100));
    }
    // 20,000 bytes hold four of these requests (and a burst of fetches may overshoot by a few).
    expect(most).toBeLessThanOrEqual(8);
    expect(await redis.llen(`${prefix}:wait`)).toBeGreaterThan(0);

    // The upload goes through: everything is answered, nothing lost.
    expect((await held.control("faults", undefined, "DELETE")).status).toBe(200);
    const flush = () =>
      fetch(`${held.gateways[0]!.url}/admin/api/flush`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
    for (const [n, id] of ids.entries()) {
      const answer = await eventually(async () => {
        await flush();
        const res = await fetch(`${held.gateways[0]!.url}/v1/requests/${id}`);
        return res.status === 200
          ? ((await res.json()) as { choices: { message: { content: string } }[] })
          : false;
      }, 60_000);
      expect(answer.choices[0]?.message.content).toBe(`echo: held ${n} ${"y".repeat(4000)}`);
    }
  });
});
