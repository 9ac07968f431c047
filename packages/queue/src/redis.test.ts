import { redisKeys } from "@batch-gpt/contracts";
import { services, uniqueName } from "@batch-gpt/testing";
import { afterAll, describe, expect, it } from "vitest";
import { Admission } from "./admission.ts";
import { collateBacklog } from "./collate-backlog.ts";
import { Inflight } from "./inflight.ts";
import { createRedis } from "./redis.ts";

// A `client` connection batches the commands of one turn of the event loop into one pipeline, built when
// the turn's first command is sent. A script defined after that (ioredis's defineCommand) is missing
// from the pipeline: its call rejected, and the pipeline's reply then threw an uncaught TypeError
// ("results[i] is not iterable") that would end the process. It happened on the dashboard's first
// overview, while another request's command was in flight.
const connections: ReturnType<typeof createRedis>[] = [];
const fresh = () => {
  const redis = createRedis(services().redisUrl, "client");
  connections.push(redis);
  return redis;
};
afterAll(() => Promise.all(connections.map((c) => c.quit())));

describe("a client connection's scripts", () => {
  it("run in a pipeline another command opened first (the collate backlog)", async () => {
    const redis = fresh();
    await redis.ping();
    const prefix = uniqueName("backlog");
    const other = redis.get(`${prefix}:other`);
    const models = collateBacklog(redis, prefix);
    await expect(Promise.all([other, models])).resolves.toEqual([null, []]);
  });

  it("run in a pipeline another command opened first (claims, admission)", async () => {
    const redis = fresh();
    await redis.ping();
    const keys = redisKeys(uniqueName("scripts"));
    const other = redis.get(`${keys.inflight("x")}:other`);
    const inflight = new Inflight(redis, keys);
    const claimed = inflight.claim("k1", "req_1");
    const admission = new Admission(redis, keys, `${uniqueName("jobs")}:`);
    const taken = admission.taken(["job_1"]);
    await expect(Promise.all([other, claimed, taken])).resolves.toEqual([null, "req_1", undefined]);
  });
});
