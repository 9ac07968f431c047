import { redisKeys } from "@batch-gpt/contracts";
import { services, uniqueName } from "@batch-gpt/testing";
import { afterAll, describe, expect, it } from "vitest";
import { Inflight } from "./inflight.ts";
import { createRedis } from "./redis.ts";

const redis = createRedis(services().redisUrl, "client");
const inflight = new Inflight(redis, redisKeys(uniqueName("inflight")));
afterAll(() => redis.disconnect());

describe("in-flight claims", () => {
  it("gives the first claimant the key and every later one the owner's id", async () => {
    const results = await Promise.all(["req_a", "req_b", "req_c"].map((id) => inflight.claim("k1", id)));
    expect(new Set(results).size).toBe(1);
    expect(["req_a", "req_b", "req_c"]).toContain(results[0]);
  });

  it("settles a success: marks the key cached and frees the claim", async () => {
    await inflight.claim("k2", "req_ok");
    expect(await inflight.isCached("k2")).toBe(false);
    await inflight.settle("k2", "req_ok", true);
    expect(await inflight.isCached("k2")).toBe(true);
    expect(await inflight.leader("k2")).toBeNull();
  });

  it("settles a failure without marking it cached, and never frees a newer attempt's claim", async () => {
    await inflight.claim("k3", "req_new");
    await inflight.settle("k3", "req_old", false);
    expect(await inflight.leader("k3")).toBe("req_new");
    await inflight.settle("k3", "req_new", false);
    expect(await inflight.leader("k3")).toBeNull();
    expect(await inflight.isCached("k3")).toBe(false);
  });
});
