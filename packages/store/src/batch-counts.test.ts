import type { BatchRecord } from "@batch-gpt/contracts";
import { openTestStore, preparingRecord } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countBatches } from "./batch-counts.ts";

let store: Awaited<ReturnType<typeof openTestStore>>;
beforeAll(async () => {
  store = await openTestStore("counts");
});
afterAll(() => store.drop());

const record = (id: string, fields: Partial<BatchRecord>): BatchRecord => ({
  ...preparingRecord(id, [`req_${id}:0`]),
  ...fields,
});

describe("countBatches", () => {
  it("counts records by state, provider status and verdict", async () => {
    expect(await countBatches(store.mongo.collections.batches)).toEqual([]);
    await store.mongo.collections.batches.insertMany([
      record("a", {}),
      record("b", { state: "submitted", status: "in_progress" }),
      record("c", { state: "submitted", status: "in_progress" }),
      record("d", { state: "done", status: "completed" }),
      record("e", { state: "done", status: "expired" }),
      record("f", { state: "done", verdict: "upload_refused" }),
    ]);
    const counts = await countBatches(store.mongo.collections.batches);
    const key = (c: { state: string; status: string | null; verdict: string | null }) =>
      `${c.state}/${c.status}/${c.verdict}`;
    expect(Object.fromEntries(counts.map((c) => [key(c), c.count]))).toEqual({
      "preparing/null/null": 1,
      "submitted/in_progress/null": 2,
      "done/completed/null": 1,
      "done/expired/null": 1,
      "done/null/upload_refused": 1,
    });
  });
});
