import { setTimeout as sleep } from "node:timers/promises";
import { redisKeys } from "@batch-gpt/contracts";
import { createRedis, Inflight } from "@batch-gpt/queue";
import { services, uniqueName } from "@batch-gpt/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { Caller } from "./key-ring.ts";
import { Quotas, quotaScripts } from "./quotas.ts";

const redis = createRedis(services().redisUrl, "client", quotaScripts);
const keys = redisKeys(uniqueName("quotas"));
afterAll(() => redis.quit());

const caller: Caller = {
  keyId: "key_held",
  tenant: "t1",
  role: "client",
  models: null,
  rpm: null,
  maxPending: 1,
};

describe("a held caller's place", () => {
  it("is renewed while the caller is held, past its lease, and given back when released", async () => {
    const quotas = new Quotas(redis, keys, { leaseMs: 600 });
    try {
      const lease = await quotas.admit(caller, { held: true });
      // Three leases later: renewed (every third of a lease), the key is still at its limit.
      await sleep(1800);
      const [, score] = await redis.zrange(keys.quotaPending(caller.keyId), "0", "0", "WITHSCORES");
      expect(Number(score)).toBeGreaterThan(Date.now());
      await expect(quotas.admit(caller, { held: true })).rejects.toMatchObject({
        status: 429,
        code: "too_many_pending_requests",
      });
      await lease.release();
      expect(await redis.zcard(keys.quotaPending(caller.keyId))).toBe(0);
      await (await quotas.admit(caller, { held: true })).release();
    } finally {
      await quotas.close();
    }
  });
});

describe("Quotas on the gateway's shared Redis connection", () => {
  it("leave the dedup claims' own scripts alone (a claim renewed on that connection is renewed)", async () => {
    // As start.ts builds them: the claims first, then the quotas, on one connection; their scripts are
    // commands of that connection, by name.
    const shared = createRedis(services().redisUrl, "client", quotaScripts);
    const inflight = new Inflight(shared, keys, { ttlSeconds: 100 });
    const quotas = new Quotas(shared, keys, { leaseMs: 60_000 });
    try {
      expect(await inflight.claim("k1", "req_1")).toBe("req_1");
      await shared.expire(keys.inflight("k1"), 5);
      await inflight.renew("k1", "req_1");
      expect(await shared.ttl(keys.inflight("k1"))).toBeGreaterThan(50);
    } finally {
      await quotas.close();
      await shared.quit();
    }
  });
});

describe("Quotas' scripts", () => {
  it("run in a pipeline another command opened first (they are defined with the connection)", async () => {
    const fresh = createRedis(services().redisUrl, "client", quotaScripts);
    await fresh.ping();
    const other = fresh.get(keys.quotaPending("other"));
    const quotas = new Quotas(fresh, keys, { leaseMs: 60_000 });
    try {
      const lease = quotas.admit({ ...caller, keyId: "key_pipelined" }, { held: true });
      await expect(Promise.all([other, lease])).resolves.toHaveLength(2);
      await (await lease).release();
    } finally {
      await quotas.close();
      await fresh.quit();
    }
  });

  it("are asked of a connection made without them, by name", async () => {
    const bare = createRedis(services().redisUrl, "client");
    try {
      expect(() => new Quotas(bare, keys, { leaseMs: 60_000 })).toThrow(/no batchGptAdmit script/);
    } finally {
      await bare.quit();
    }
  });
});
