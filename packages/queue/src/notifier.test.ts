import { redisKeys } from "@batch-gpt/contracts";
import { eventually, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, describe, expect, it } from "vitest";
import { DonePublisher, DoneSubscriber } from "./notifier.ts";
import { createRedis } from "./redis.ts";

const keys = redisKeys(uniqueName("notify"));
const publisherConnection = createRedis(services().redisUrl, "client");
const admin = createRedis(services().redisUrl, "client");
afterAll(() => {
  publisherConnection.disconnect();
  admin.disconnect();
});

describe("done notifications", () => {
  it("delivers every published id to the subscriber", async () => {
    const seen: string[] = [];
    const subscriber = new DoneSubscriber(createRedis(services().redisUrl, "subscriber"), keys, {
      onDone: (id) => seen.push(id),
      onResync: () => {},
    });
    await subscriber.ready();
    await new DonePublisher(publisherConnection, keys).publish(["req_a", "req_b"]);
    await eventually(() => seen.length === 2, 5000, "both messages");
    expect(seen).toEqual(["req_a", "req_b"]);
    await subscriber.close();
  });

  it("asks for a re-check of every held request after its connection was cut, and keeps receiving", async () => {
    let resyncs = 0;
    const seen: string[] = [];
    const connection = createRedis(services().redisUrl, "subscriber");
    const subscriber = new DoneSubscriber(connection, keys, {
      onDone: (id) => seen.push(id),
      onResync: () => resyncs++,
    });
    await subscriber.ready();
    // Messages published while a subscriber reconnects are lost: the re-check is what covers them.
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    await eventually(() => resyncs === 1, 10_000, "a resync after the reconnect");
    await eventually(
      async () => {
        await new DonePublisher(publisherConnection, keys).publish(["req_after"]);
        return seen.includes("req_after");
      },
      10_000,
      "delivery after the reconnect",
    );
    await subscriber.close();
  });
});
