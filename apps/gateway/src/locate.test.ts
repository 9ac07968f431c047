import { createLogger } from "@batch-gpt/config";
import { collateQueue } from "@batch-gpt/contracts";
import { QueueRegistry } from "@batch-gpt/queue";
import { openTestStore, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { locator, manyLocator } from "./locate.ts";

let store: Awaited<ReturnType<typeof openTestStore>>;
const queues = new QueueRegistry({
  redisUrl: services().redisUrl,
  prefix: uniqueName("lost"),
  log: createLogger("lost", "silent"),
});
beforeAll(async () => {
  store = await openTestStore("lost");
});
afterAll(async () => {
  await queues.close();
  await store.drop();
});

const job = (requestId: string) => ({
  requestId,
  attempt: 0,
  owner: "t",
  provider: "openai",
  endpoint: "/v1/chat/completions" as const,
  model: "m",
  body: "{}",
  key: `k-${requestId}`,
  traceId: "t",
  createdAt: Date.now(),
});

describe("locating a request", () => {
  it("finds it queued, then recorded, else nowhere", async () => {
    const locate = locator(queues, store);
    await queues.producer(collateQueue).add(job("req_queued"));
    expect(await locate("req_queued")).toBe("queued");
    await store.requests.ensure([job("req_recorded")]);
    expect(await locate("req_recorded")).toBe("recorded");
    expect(await locate("req_gone")).toBe("nowhere");
  });

  it("finds many at once: their jobs, then one store query for those without one", async () => {
    const locateMany = manyLocator(queues, store);
    await queues.producer(collateQueue).add(job("req_many_queued"));
    await store.requests.ensure([job("req_many_recorded")]);
    const where = await locateMany(["req_many_queued", "req_many_recorded", "req_many_gone"]);
    expect(Object.fromEntries(where)).toEqual({
      req_many_queued: "queued",
      req_many_recorded: "recorded",
      req_many_gone: "nowhere",
    });
  });
});
