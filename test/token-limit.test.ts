import { collateQueue } from "@batch-gpt/contracts";
import { QueueRegistry } from "@batch-gpt/queue";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { TOKEN_LIMIT_RETRY_MS: "600000" } });
});
afterAll(() => stack?.close());

describe("a batch refused for the enqueued-token limit", () => {
  it("holds its lines back (a delayed attempt) instead of failing or resending them at once", async () => {
    await stack.control("next-batch", { outcome: "token_limit_exceeded" });
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify({ model: "gpt-tpd", messages: [{ role: "user", content: "wait for room" }] }),
    });
    const { id } = (await res.json()) as { id: string };
    // The call reaches MongoDB a moment after its 202 (written in bulk).
    const call = await eventually(
      () => stack.store.calls.get(id).then((c) => c ?? undefined),
      10_000,
      "the call",
    );
    const requestId = call.requestId;
    const queues = new QueueRegistry({
      redisUrl: stack.env.REDIS_URL!,
      prefix: stack.env.BULL_PREFIX!,
      log: console,
    });
    try {
      const state = await eventually(
        async () => {
          const s = await queues.producer(collateQueue).state({ requestId, attempt: 1 });
          return s === "delayed" ? s : undefined;
        },
        30_000,
        "the second attempt to be delayed",
      );
      expect(state).toBe("delayed");
      const record = await stack.store.requests.get(requestId);
      expect(record).toMatchObject({ state: "queued", attempt: 1 });
      const pending = await fetch(`${stack.gateways[0]!.url}/v1/requests/${id}`);
      expect(pending.status).toBe(202);
      expect((await stack.emulatorStats()).batches.filter((b) => b.model === "gpt-tpd")).toHaveLength(1);
    } finally {
      await queues.close();
    }
  });
});
