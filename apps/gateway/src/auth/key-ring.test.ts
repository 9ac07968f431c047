import { createLogger } from "@batch-gpt/config";
import { createRedis } from "@batch-gpt/queue";
import { openStore, type Store } from "@batch-gpt/store";
import { services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRing } from "./key-ring.ts";

// The key ring reads MongoDB only when the keys' version in Redis moved, and one read at a time.

let store: Store;
const redis = createRedis(services().redisUrl, "client");
/** `find` commands sent to the apiKeys collection. */
let reads = 0;

beforeAll(async () => {
  store = await openStore(services().mongoUri, uniqueName("keyring"), { monitorCommands: true });
  store.mongo.client.on(
    "commandStarted",
    (event: { commandName: string; command: Record<string, unknown> }) => {
      if (event.commandName === "find" && event.command.find === "apiKeys") reads++;
    },
  );
});
afterAll(async () => {
  redis.disconnect();
  await store.mongo.db.dropDatabase();
  await store.close();
});

const ring = (versionKey: string) =>
  new KeyRing({
    apiKeys: [],
    adminKeys: [],
    store: store.apiKeys,
    redis,
    versionKey,
    defaults: { rpm: null, maxPending: null },
    log: createLogger("keyring", "silent"),
  });

describe("refreshing the stored keys", () => {
  it("reads the store once while no key was ever made (no version in Redis), not at every tick", async () => {
    const keys = ring(uniqueName("keys-version"));
    reads = 0;
    await keys.refresh();
    await keys.refresh();
    await keys.refresh();
    expect(reads).toBe(1);
  });

  it("runs one refresh at a time: ticks while one is under way join it", async () => {
    const keys = ring(uniqueName("keys-version"));
    reads = 0;
    await Promise.all([keys.refresh(), keys.refresh(), keys.refresh()]);
    expect(reads).toBe(1);
  });

  it("reads again once the version moved, and a forced refresh always reads", async () => {
    const versionKey = uniqueName("keys-version");
    const keys = ring(versionKey);
    await keys.refresh();
    reads = 0;
    await redis.incr(versionKey);
    await keys.refresh();
    expect(reads).toBe(1);
    await keys.refresh();
    expect(reads).toBe(1);
    await keys.refresh(true);
    expect(reads).toBe(2);
  });
});
