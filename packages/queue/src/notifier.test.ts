import { type DoneMessage, type Outcome, redisKeys } from "@batch-gpt/contracts";
import { eventually, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, describe, expect, it } from "vitest";
import { DonePublisher, DoneSubscriber, RecentAnswers } from "./notifier.ts";
import { createRedis } from "./redis.ts";

const keys = redisKeys(uniqueName("notify"));
const publisherConnection = createRedis(services().redisUrl, "client");
const admin = createRedis(services().redisUrl, "client");
const publisher = (carryMaxBytes = 1024) =>
  new DonePublisher(publisherConnection, keys, { carryMaxBytes, ttlSeconds: 60 });
const ids = (...requestIds: string[]) => requestIds.map((requestId) => ({ requestId, outcome: null }));
afterAll(() => {
  publisherConnection.disconnect();
  admin.disconnect();
});

describe("done notifications", () => {
  it("delivers every published id to the subscriber", async () => {
    const seen: string[] = [];
    const subscriber = new DoneSubscriber(createRedis(services().redisUrl, "subscriber"), keys, {
      onDone: (message) => seen.push(message.requestId),
      onResync: () => {},
    });
    await subscriber.ready();
    await publisher().publish(ids("req_a", "req_b"));
    await eventually(() => seen.length === 2, 5000, "both messages");
    expect(seen).toEqual(["req_a", "req_b"]);
    await subscriber.close();
  });

  it("asks for a re-check of every held request after its connection was cut, and keeps receiving", async () => {
    let resyncs = 0;
    const seen: string[] = [];
    const connection = createRedis(services().redisUrl, "subscriber");
    const subscriber = new DoneSubscriber(connection, keys, {
      onDone: (message) => seen.push(message.requestId),
      onResync: () => resyncs++,
    });
    await subscriber.ready();
    // Messages published while a subscriber reconnects are lost: the re-check is what covers them.
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    await eventually(() => resyncs === 1, 10_000, "a resync after the reconnect");
    await eventually(
      async () => {
        await publisher().publish(ids("req_after"));
        return seen.includes("req_after");
      },
      10_000,
      "delivery after the reconnect",
    );
    await subscriber.close();
  });

  it("carries a small outcome in the message and keeps it in Redis; a large one only as a pointer", async () => {
    const messages: DoneMessage[] = [];
    const subscriber = new DoneSubscriber(createRedis(services().redisUrl, "subscriber"), keys, {
      onDone: (message) => messages.push(message),
      onResync: () => {},
    });
    await subscriber.ready();
    const small: Outcome = { state: "succeeded", answer: { statusCode: 200, body: '{"ok":true}' } };
    const large: Outcome = {
      state: "succeeded",
      answer: { statusCode: 200, body: JSON.stringify("x".repeat(2000)) },
    };
    await publisher(1024).publish([
      { requestId: "req_small", outcome: small },
      { requestId: "req_large", outcome: large },
      { requestId: "req_unread", outcome: null },
    ]);
    await eventually(() => messages.length === 3, 5000, "three messages");
    expect(messages).toEqual([
      { requestId: "req_small", v: 2, outcome: small },
      { requestId: "req_large" },
      { requestId: "req_unread" },
    ]);
    const recent = new RecentAnswers(publisherConnection, keys);
    expect(await recent.peekMany(["req_small", "req_large", "req_unread", "req_never"])).toEqual([
      small,
      "stored",
      "stored",
      null,
    ]);
    expect(await publisherConnection.ttl(keys.answer("req_small"))).toBeGreaterThan(0);
    await subscriber.close();
  });
});
