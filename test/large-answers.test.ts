import { documentBytes, MAX_DOCUMENT_BYTES } from "@batch-gpt/store";
import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Answers larger than MongoDB's 16 MiB document limit. FerretDB v1 stores such documents, MongoDB
// refuses them: the store keeps every document under the limit itself, so what passes here passes
// on MongoDB too.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

// 600 inputs of 1,536 floats: about 19 MB of JSON, text-embedding-3-small's size for that many inputs.
const huge = {
  model: "text-embedding-3-small",
  input: Array.from({ length: 600 }, (_, i) => `input ${i}`),
  dimensions: 1536,
  // As floats: the Node SDK asks for base64 unless told, a quarter of the size.
  encoding_format: "float" as const,
};

async function largestDocument(collection: "answers" | "cache"): Promise<number> {
  let largest = 0;
  for await (const doc of stack.store.mongo.db.collection(collection).find({})) {
    largest = Math.max(largest, documentBytes(doc));
  }
  return largest;
}

describe("an answer over MongoDB's document limit", () => {
  it("is answered, cached and stored in documents MongoDB takes; its batch neighbour too", async () => {
    const [big, small] = await Promise.all([
      stack.client.embeddings.create(huge),
      stack.client.embeddings.create({
        model: "text-embedding-3-small",
        input: "a neighbour",
        dimensions: 4,
      }),
    ]);
    expect(big.data).toHaveLength(600);
    expect(big.data[599]?.embedding).toHaveLength(1536);
    expect(small.data[0]?.embedding).toHaveLength(4);
    // The answer as the provider sent it is over the limit (read back whole through the store).
    const ids = await stack.store.mongo.collections.answers.distinct("_id");
    const bodies = (await stack.store.requests.outcomes(ids)).map((o) => Buffer.byteLength(o.answer.body));
    expect(Math.max(...bodies)).toBeGreaterThan(MAX_DOCUMENT_BYTES);

    expect(await largestDocument("answers")).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);
    expect(await largestDocument("cache")).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);

    // From the cache (MongoDB's: it is far too large for the Redis tier), whole.
    const lines = (await stack.emulatorStats()).linesSubmitted;
    const { data, response } = await stack.client.embeddings.create(huge).withResponse();
    expect(response.headers.get("x-batch-cache")).toBe("hit");
    expect(data.data[599]?.embedding).toEqual(big.data[599]?.embedding);
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines);
  });
});
