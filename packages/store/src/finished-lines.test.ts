import { preparingRecord, services, uniqueName } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchStore } from "./batches.ts";
import { openStore, type Store } from "./index.ts";
import type { BatchRecordDoc } from "./mongo.ts";

// A finished batch record keeps no line list: nothing reads it once the record is done (its line
// manifest keeps what settling needed), and on FerretDB v1 every read of a live record decoded every
// finished one's list. Its count stays (the admin API shows a refused record's).

let store: Store;
beforeAll(async () => {
  store = await openStore(services().mongoUri, uniqueName("finished"));
});
afterAll(async () => {
  await store.mongo.db.dropDatabase();
  await store.close();
});

const raw = (id: string) => store.mongo.collections.batches.findOne({ _id: id });
const LINES = ["req_a:0", "req_b:0", "req_c:1"];

// Both ways of guarding a transition: in the update's filter (MongoDB), or read by _id first (FerretDB v1).
describe.each([
  ["in the filter", true],
  ["read first", false],
])("a record finishing, the from-state guard %s", (_mode, guardInFilter) => {
  let batches: BatchStore;
  beforeAll(() => {
    batches = new BatchStore(store.mongo.collections, store.fences, { guardInFilter });
  });
  const id = (name: string) => `bgb_${name}_${guardInFilter}`;

  it("settled: drops its line list and keeps its count", async () => {
    await batches.prepare(preparingRecord(id("settled"), LINES));
    expect(await raw(id("settled"))).toMatchObject({ linesText: JSON.stringify(LINES), lineCount: 3 });
    expect(await batches.trimLines(id("settled"), LINES.slice(0, 2), 0)).toBe(true);
    expect(await batches.markUploaded(id("settled"), "file-1", 0)).toBe(true);
    expect(await batches.claimCreating(id("settled"), 0, "c0")).toBe(true);
    expect(await batches.markSubmitted(id("settled"), { id: "batch_s", status: "validating" }, 0)).toBe(true);
    // Still submitted: the poller settles it from its list.
    expect((await batches.get(id("settled")))?.lines).toEqual(LINES.slice(0, 2));
    expect(await batches.markSettled(id("settled"))).toBe(true);
    const doc = await raw(id("settled"));
    expect(doc).toMatchObject({ state: "done", lineCount: 2 });
    expect(doc).not.toHaveProperty("linesText");
    expect(doc).not.toHaveProperty("lines");
    expect(await batches.get(id("settled"))).toMatchObject({ state: "done", lines: [] });
    expect(await batches.lineCount(id("settled"))).toBe(2);
    expect(await batches.summary(id("settled"))).not.toHaveProperty("lineCount");
  });

  it("refused: drops its line list, counted first when an earlier version wrote no count", async () => {
    await batches.prepare(preparingRecord(id("refused"), LINES));
    expect(await batches.markRefused(id("refused"), "upload_refused", 0)).toBe(true);
    const doc = await raw(id("refused"));
    expect(doc).toMatchObject({ state: "done", verdict: "upload_refused", lineCount: 3 });
    expect(doc).not.toHaveProperty("linesText");

    // As the previous version wrote a record: its list, no count.
    const { lines, ...old } = preparingRecord(id("refused_old"), LINES);
    await store.mongo.collections.batches.insertOne({ ...old, linesText: JSON.stringify(lines) });
    expect(await batches.markRefused(id("refused_old"), "create_refused", 0)).toBe(true);
    const oldDoc = await raw(id("refused_old"));
    expect(oldDoc).toMatchObject({ state: "done", lineCount: 3 });
    expect(oldDoc).not.toHaveProperty("linesText");
    expect(await batches.lineCount(id("refused_old"))).toBe(3);
  });

  it("emptied: keeps no list, and a count of none", async () => {
    await batches.prepare(preparingRecord(id("emptied"), LINES));
    expect(await batches.trimLines(id("emptied"), [], 0)).toBe(true);
    const doc = await raw(id("emptied"));
    expect(doc).toMatchObject({ state: "done", verdict: "empty", lineCount: 0 });
    expect(doc).not.toHaveProperty("linesText");
  });
});

describe("records finished by an earlier version", () => {
  it("lose their line lists in bulk; refused ones keep a count; unfinished ones keep theirs", async () => {
    const old = (name: string, over: Partial<BatchRecordDoc>): BatchRecordDoc => {
      const { lines: _lines, ...record } = preparingRecord(`bgb_old_${name}`, LINES);
      return { ...record, ...over };
    };
    const text = JSON.stringify(LINES);
    const submitted = { providerBatchId: "batch_old", providerBatch: "{}", status: "completed" };
    await store.mongo.collections.batches.insertMany([
      old("text", { state: "done", linesText: text, ...submitted }),
      // Earlier still: the list as an array, and no format version.
      old("array", { state: "done", lines: LINES, ...submitted }),
      old("refused", { state: "done", linesText: text, verdict: "create_refused" }),
      old("collating", { state: "uploaded", linesText: text }),
      old("live", { state: "submitted", linesText: text, ...submitted }),
    ]);
    expect(await store.batches.dropFinishedLines()).toBe(3);
    for (const name of ["text", "array", "refused"]) {
      const doc = await raw(`bgb_old_${name}`);
      expect(doc).toMatchObject({ state: "done" });
      expect(doc).not.toHaveProperty("linesText");
      expect(doc).not.toHaveProperty("lines");
    }
    expect(await raw("bgb_old_refused")).toMatchObject({ lineCount: 3 });
    expect(await store.batches.lineCount("bgb_old_refused")).toBe(3);
    expect(await raw("bgb_old_collating")).toMatchObject({ linesText: text });
    expect(await raw("bgb_old_live")).toMatchObject({ linesText: text });
    expect((await store.batches.get("bgb_old_live"))?.lines).toEqual(LINES);
    // Again: nothing left to drop.
    expect(await store.batches.dropFinishedLines()).toBe(0);
  });
});
