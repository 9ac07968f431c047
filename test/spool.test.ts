import { readFile } from "node:fs/promises";
import { requestKey } from "@batch-gpt/contracts";
import { eventually, queueAsyncCalls, type Stack, startStack } from "@batch-gpt/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBatchFile } from "../apps/collator/src/jsonl.ts";

// A gathering group spools each job's batch line to disk as it comes, and lets go of the job's body
// once its line is spooled and its request record stored (the early chunks of 500): what the collator
// holds is the bodies not yet there, not the whole batch. At the flush the spool is the batch file, or
// is copied keeping only the batch record's lines (a request answered from the cache at the flush).

const LINES = 1200;
const ENDPOINT = "/v1/chat/completions" as const;
/** About 1,000 characters each: 700 of them fill COLLATOR_MAX_HELD_BYTES below. */
const chat = (model: string, n: number) => ({
  model,
  messages: [{ role: "user" as const, content: `spool ${model} ${n} ${"s".repeat(900)}` }],
});

let stack: Stack;
let provider: OpenAI;
beforeAll(async () => {
  // Flushed at 1,200 lines only (the window is far longer than the test), or when the bodies held
  // reach 700,000 characters: holding every body, a 1,200-line group is flushed at about 700 lines.
  // No collator yet: one starts once the cache holds an entry older than a marker lives, so that a
  // flush looks its requests up in MongoDB's cache (no Redis tier).
  stack = await startStack({
    collators: 0,
    env: {
      COLLATE_BATCHES_FOR_DURATION_IN_MS: "600000",
      COLLATE_MAX_LINES: String(LINES),
      COLLATOR_MAX_HELD_BYTES: "700000",
      CACHE_MARKER_TTL_SECONDS: "60",
      CACHE_REDIS_TTL_SECONDS: "0",
    },
  });
  provider = new OpenAI({ baseURL: stack.emulator.url, apiKey: "sk-emulator-test", maxRetries: 0 });
  await stack.store.mongo.collections.cache.insertOne({
    _id: "an-old-entry",
    owner: "anonymous",
    endpoint: ENDPOINT,
    model: "gpt-old",
    body: "{}",
    createdAt: new Date(Date.now() - 120_000),
  });
  await stack.startCollator();
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

/** Queues requests `from` to `to` of `model` (async calls); their call ids. */
const post = (model: string, from: number, to: number) =>
  queueAsyncCalls(stack.gateways[0]!.url, from, to, (n) => chat(model, n));

/**
 * Queues a whole group, 500 at a time, each 500 once their records are stored: the collator never has
 * more than about 500 bodies to hold, unless it holds those whose records are stored.
 */
async function postGroup(model: string): Promise<string[]> {
  const { requests } = stack.store.mongo.collections;
  const ids: string[] = [];
  for (let from = 0; from < LINES; from += 500) {
    ids.push(...(await post(model, from, Math.min(LINES, from + 500))));
    if (from + 500 < LINES) {
      // Or a batch already: the group flushed before it was whole.
      await eventually(
        async () =>
          (await requests.countDocuments({ model })) >= from + 500 ||
          (await stack.emulatorStats()).batches.some((b) => b.model === model),
        30_000,
        `the first ${from + 500} records`,
      );
    }
  }
  return ids;
}

/** The batch the emulator took for `model`, once there is one, and the bytes of its input file. */
async function submitted(model: string) {
  const batches = await eventually(
    async () => {
      const found = (await stack.emulatorStats()).batches.filter((b) => b.model === model);
      return found.length > 0 && found;
    },
    60_000,
    `a batch of ${model}`,
  );
  const batch = await provider.batches.retrieve(batches[0]!.id);
  const content = await provider.files.content(batch.input_file_id);
  return { batches, bytes: Buffer.from(await content.arrayBuffer()) };
}

/** The file the collator wrote before spools (`writeBatchFile`) for these lines, from the stored bodies. */
async function writtenTheOldWay(customIds: string[]): Promise<Buffer> {
  const bodies = await stack.store.requests.bodies(customIds);
  const file = await writeBatchFile(
    "expected",
    customIds.map((customId) => ({ customId, endpoint: ENDPOINT, body: bodies.get(customId)! })),
  );
  try {
    return await readFile(file.path);
  } finally {
    await file.cleanup();
  }
}

const linesOf = (bytes: Buffer) =>
  bytes
    .toString("utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as { custom_id: string; body: { messages: { content: string }[] } });

describe("a gathering group's spool", () => {
  it("lets go of the bodies whose lines are spooled and records stored, and uploads the spool as the batch file", async () => {
    const model = "gpt-spooled";
    await postGroup(model);
    const { batches, bytes } = await submitted(model);
    // Holding every body, the collator would have flushed at its memory bound, about 700 lines in.
    expect(batches.map((b) => b.lines)).toEqual([LINES]);
    const lines = linesOf(bytes);
    expect(new Set(lines.map((l) => l.body.messages[0]!.content))).toEqual(
      new Set(Array.from({ length: LINES }, (_, n) => chat(model, n).messages[0]!.content)),
    );
    expect(bytes.equals(await writtenTheOldWay(lines.map((l) => l.custom_id)))).toBe(true);
  }, 120_000);

  it("uploads only the record's lines when the flush answers one from the cache", async () => {
    const model = "gpt-spool-filtered";
    // Its body is in MongoDB's cache, its Redis marker gone: the flush answers it from there.
    const cached = chat(model, 3);
    const answer = {
      id: "chatcmpl-from-mongodb",
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "from MongoDB's cache", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
    };
    await stack.store.mongo.collections.cache.insertOne({
      _id: requestKey("anonymous", ENDPOINT, cached),
      owner: "anonymous",
      endpoint: ENDPOINT,
      model,
      body: JSON.stringify(answer),
      createdAt: new Date(),
    });
    const ids = await postGroup(model);
    const { batches, bytes } = await submitted(model);
    expect(batches.map((b) => b.lines)).toEqual([LINES - 1]);
    const lines = linesOf(bytes);
    const contents = lines.map((l) => l.body.messages[0]!.content);
    expect(contents).not.toContain(cached.messages[0]!.content);
    expect(new Set(contents)).toEqual(
      new Set(
        Array.from({ length: LINES }, (_, n) => chat(model, n).messages[0]!.content).filter(
          (c) => c !== cached.messages[0]!.content,
        ),
      ),
    );
    expect(bytes.equals(await writtenTheOldWay(lines.map((l) => l.custom_id)))).toBe(true);
    const res = await fetch(`${stack.gateways[0]!.url}/v1/requests/${ids[3]}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as typeof answer).choices[0]?.message.content).toBe("from MongoDB's cache");
  }, 120_000);
});
