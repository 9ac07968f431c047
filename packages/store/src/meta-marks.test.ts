import { fenceIds } from "@batch-gpt/contracts";
import { openTestStore } from "@batch-gpt/testing";
import { afterEach, describe, expect, it } from "vitest";
import { META } from "./mongo.ts";

// What the store keeps in `meta` so that a start does not scan a whole collection (on FerretDB v1 a
// query by anything but `_id` reads every document): each test on a database of its own.
let stores: Awaited<ReturnType<typeof openTestStore>>[] = [];
const fresh = async (name: string) => {
  const store = await openTestStore(name);
  stores.push(store);
  return store;
};
afterEach(async () => {
  await Promise.all(stores.map((s) => s.drop()));
  stores = [];
});

const entry = (key: string, createdAt: Date) => ({
  _id: key,
  endpoint: "/v1/chat/completions" as const,
  model: "m",
  owner: "t",
  body: '{"ok":true}',
  createdAt,
});

describe("the cache's oldest entry", () => {
  it("is found once in a cache an older version filled, then read from its mark, which putMany moves back", async () => {
    const store = await fresh("meta-cache");
    const c = store.mongo.collections;
    const day = 24 * 3600_000;
    // Written by an older version: entries, no mark.
    const oldest = new Date(Date.now() - 3 * day);
    await c.cache.insertMany([entry("k1", oldest), entry("k2", new Date())]);
    const first = await store.cache.oldestAt();
    expect(first).toEqual(oldest);
    expect((await c.meta.findOne({ _id: META.cacheOldest }))?.at).toEqual(oldest);

    // Read from the mark: an entry slipped in behind the store's back is not looked for.
    await c.cache.insertOne(entry("k0", new Date(Date.now() - 9 * day)));
    expect(await store.cache.oldestAt()).toEqual(first);

    // One stored through the store, older than the mark, moves it back; a newer one does not.
    const older = new Date(Date.now() - 5 * day);
    expect(await store.cache.putMany([entry("k3", older)])).toEqual(new Set());
    expect(await store.cache.oldestAt()).toEqual(older);
    await store.cache.putMany([entry("k4", new Date())]);
    expect(await store.cache.oldestAt()).toEqual(older);
  });

  it("of an empty cache is none, and the mark then written is a moment before the look", async () => {
    const store = await fresh("meta-cache-empty");
    const before = Date.now();
    expect(await store.cache.oldestAt()).toBeNull();
    const mark = await store.mongo.collections.meta.findOne({ _id: META.cacheOldest });
    expect(mark?.at.getTime()).toBeLessThanOrEqual(before);
    expect(await store.cache.oldestAt()).toEqual(mark?.at);
  });

  it("is never moved by putMany before a mark exists: what an older version left is unknown", async () => {
    const store = await fresh("meta-cache-nomark");
    await store.cache.putMany([entry("k1", new Date(Date.now() - 3600_000))]);
    expect(await store.mongo.collections.meta.findOne({ _id: META.cacheOldest })).toBeNull();
  });
});

describe("record fences an older version left among the lines'", () => {
  it("are moved once per database by a worker's start, and a later start does not look again", async () => {
    const store = await fresh("meta-fences");
    const c = store.mongo.collections;
    const legacy = fenceIds.generation("bgb_old", 1);
    await c.fences.insertOne({ _id: legacy, holder: "old", at: new Date() });

    // A gateway may start while old workers still write them: it leaves them for the workers.
    await store.ensureIndexes("gateway");
    expect(await c.fences.countDocuments({ _id: legacy })).toBe(1);
    expect(await c.meta.findOne({ _id: META.fencesAdopted })).toBeNull();

    await store.ensureIndexes("collator");
    expect(await store.fences.holder(legacy)).toBe("old");
    expect(await c.fences.countDocuments({ _id: legacy })).toBe(0);
    expect(await c.meta.findOne({ _id: META.fencesAdopted })).not.toBeNull();

    // Marked: the next start skips the query (old workers are stopped before new ones start).
    const later = fenceIds.generation("bgb_old", 2);
    await c.fences.insertOne({ _id: later, holder: "old", at: new Date() });
    expect(await store.fences.adoptLegacy()).toBe(0);
    expect(await c.fences.countDocuments({ _id: later })).toBe(1);
  });
});
