import { redisKeys } from "@batch-gpt/contracts";
import { services, uniqueName } from "@batch-gpt/testing";
import { afterAll, describe, expect, it } from "vitest";
import { Admission } from "./admission.ts";
import { Inflight, QUEUE_FULL } from "./inflight.ts";
import { createRedis } from "./redis.ts";

const redis = createRedis(services().redisUrl, "client");
afterAll(() => redis.disconnect());

/** A fresh queue (its own prefix) bounded at `maxQueuedRequests` requests and 10,000 bytes. */
function queue(maxQueuedRequests: number) {
  const prefix = uniqueName("admission");
  const keys = redisKeys(prefix);
  const jobPrefix = `${prefix}:collate:`;
  return {
    jobPrefix,
    inflight: new Inflight(redis, keys, { maxQueuedRequests, maxQueuedBytes: 10_000 }),
    admission: new Admission(redis, keys, jobPrefix),
  };
}

describe("admission control", () => {
  it("admits new requests up to the bounds; attaching and taken jobs take no room", async () => {
    const { inflight, admission } = queue(2);
    expect(await inflight.claim("k1", "req_1", 100)).toBe("req_1");
    expect(await inflight.claim("k1", "req_1b", 100)).toBe("req_1");
    expect(await inflight.claim("k2", "req_2", 100)).toBe("req_2");
    expect(await inflight.claim("k3", "req_3", 100)).toBe(QUEUE_FULL);
    // Refused: nothing claimed, so an identical request later starts afresh.
    expect(await inflight.leader("k3")).toBeNull();
    expect(await admission.figures()).toEqual({ requests: 2, bytes: 200 });
    await admission.taken(["req_1", "req_1"]);
    expect(await admission.figures()).toEqual({ requests: 1, bytes: 100 });
    expect(await inflight.claim("k3", "req_3", 100)).toBe("req_3");
  });

  it("bounds the bytes, but an empty queue takes any one request", async () => {
    const { inflight, admission } = queue(100);
    expect(await inflight.claim("big", "req_big", 50_000)).toBe("req_big");
    expect(await inflight.claim("small", "req_small", 10)).toBe(QUEUE_FULL);
    await admission.taken(["req_big"]);
    expect(await inflight.claim("small", "req_small", 6_000)).toBe("req_small");
    expect(await inflight.claim("more", "req_more", 6_000)).toBe(QUEUE_FULL);
  });

  it("a request released before its job was added leaves the count", async () => {
    const { inflight, admission } = queue(100);
    await inflight.claim("k", "req_r", 300);
    await inflight.release("k", "req_r");
    expect(await admission.figures()).toEqual({ requests: 0, bytes: 0 });
  });

  it("the reconcile drops entries whose job is gone, once their grace is over", async () => {
    const { inflight, admission, jobPrefix } = queue(100);
    await inflight.claim("gone", "req_gone", 100);
    await inflight.claim("there", "req_there", 200);
    await redis.hset(`${jobPrefix}req_there`, "data", "{}");
    // Within the grace, a job may still be on its way.
    expect(await admission.reconcile()).toBe(0);
    expect(await admission.reconcile(Date.now() + 120_000)).toBe(1);
    expect(await admission.figures()).toEqual({ requests: 1, bytes: 200 });
  });
});
