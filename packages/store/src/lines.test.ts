import { lineId } from "@batch-gpt/contracts";
import { openTestStore } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentBytes, MAX_DOCUMENT_BYTES } from "./documents.ts";
import type { LineInfo } from "./lines.ts";

let store: Awaited<ReturnType<typeof openTestStore>>;
beforeAll(async () => {
  store = await openTestStore("lines");
});
afterAll(() => store.drop());

const linesOf = (record: string, count: number, over: Partial<LineInfo> = {}): LineInfo[] =>
  Array.from({ length: count }, (_, i) => ({
    requestId: `req_${record}_${i}`,
    attempt: i % 3,
    key: `key-${i}`,
    owner: "team-a",
    ...over,
  }));

const byLine = (lines: LineInfo[]) => new Map(lines.map((l) => [lineId(l.requestId, l.attempt), l]));

describe("line manifests", () => {
  it("reads back every line of a manifest of several chunks, written twice", async () => {
    const lines = linesOf("many", 2_345, { owner: 'tenant "quoted"\t\n' });
    await store.lines.write("bgb_many", lines);
    await store.lines.write("bgb_many", lines);
    const docs = await store.mongo.collections.batchLines.find({ recordId: "bgb_many" }).toArray();
    expect(docs.map((d) => d._id).sort()).toEqual(["bgb_many:0", "bgb_many:1", "bgb_many:2"]);
    expect(docs.every((d) => d.v === 2 && d.of === 3)).toBe(true);
    expect(await store.lines.read("bgb_many")).toEqual(byLine(lines));
  });

  it("keeps each chunk far below MongoDB's limit, however long the keys", async () => {
    const lines = linesOf("long", 40, { key: "k".repeat(200_000) });
    await store.lines.write("bgb_long", lines);
    const docs = await store.mongo.collections.batchLines.find({ recordId: "bgb_long" }).toArray();
    expect(docs.length).toBeGreaterThan(1);
    for (const doc of docs) expect(documentBytes(doc)).toBeLessThan(MAX_DOCUMENT_BYTES / 4);
    expect(await store.lines.read("bgb_long")).toEqual(byLine(lines));
  });

  it("reads a manifest of format 1 (one object per line), as the previous version wrote it", async () => {
    const first = linesOf("old", 1000);
    const second = linesOf("old2", 10);
    await store.mongo.collections.batchLines.insertMany([
      { _id: "bgb_old:0", recordId: "bgb_old", v: 1, lines: first },
      { _id: "bgb_old:1", recordId: "bgb_old", v: 1, lines: second },
    ]);
    expect(await store.lines.read("bgb_old")).toEqual(byLine([...first, ...second]));
  });

  it("is empty for a record without one", async () => {
    expect((await store.lines.read("bgb_none")).size).toBe(0);
    await store.lines.write("bgb_empty", []);
    expect((await store.lines.read("bgb_empty")).size).toBe(0);
  });
});
