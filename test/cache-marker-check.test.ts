import { requestKey } from "@batch-gpt/contracts";
import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Whether Redis's `cached` markers may have lapsed (some cache entry is older than
// CACHE_MARKER_TTL_SECONDS) is one look-up of the cache's oldest entry: on FerretDB v1 a scan of the
// whole cache, seconds long on a store with history. A collator makes it when it starts, so that the
// flushes of the first burst after a start do not wait on it.

let stack: Stack;
beforeAll(async () => {
  // No Redis tier, no collator yet: the test starts it once the cache holds what it should find.
  stack = await startStack({
    collators: 0,
    env: { CACHE_MARKER_TTL_SECONDS: "60", CACHE_REDIS_TTL_SECONDS: "0" },
  });
});
afterAll(() => stack?.close());

const ENDPOINT = "/v1/chat/completions" as const;
const MODEL = "gpt-4o-mini";

describe("the cache markers' check", () => {
  it("is made when the collator starts, not at its first flush", async () => {
    const cache = stack.store.mongo.collections.cache;
    // An entry older than a marker lives: from here on, a missing marker may be a lapsed one.
    await cache.insertOne({
      _id: "an-old-entry",
      owner: "anonymous",
      endpoint: ENDPOINT,
      model: MODEL,
      body: "{}",
      createdAt: new Date(Date.now() - 120_000),
    });
    await stack.startCollator();
    // Once the collator has started, only a fresh entry is left, its marker missing. Asked at the
    // first flush, the oldest entry would be this one: markers all alive, the request a miss.
    await cache.deleteMany({});
    const body = { model: MODEL, messages: [{ role: "user" as const, content: "kept in MongoDB only" }] };
    const answer = {
      id: "chatcmpl-from-mongodb",
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: MODEL,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "from MongoDB's cache", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
    };
    await cache.insertOne({
      _id: requestKey("anonymous", ENDPOINT, body),
      owner: "anonymous",
      endpoint: ENDPOINT,
      model: MODEL,
      body: JSON.stringify(answer),
      createdAt: new Date(),
    });

    const reply = await stack.client.chat.completions.create(body);
    expect(reply.choices[0]?.message.content).toBe("from MongoDB's cache");
    expect((await stack.emulatorStats()).linesSubmitted).toBe(0);
  });
});
