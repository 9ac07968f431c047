import { type CollateJob, fenceIds } from "@batch-gpt/contracts";
import { collateJob, preparingRecord, services, uniqueName } from "@batch-gpt/testing";
import type { CommandStartedEvent } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchStore } from "./batches.ts";
import type { Clock } from "./clock.ts";
import { openStore, type Store } from "./index.ts";

// What a collator does to keep a batch record while it works on it (heartbeats) and to take one over
// (reading its lines' fences and bodies): right under a busy store, and in bulk, not line by line.

let store: Store;
/** Commands sent, by collection: counted with the driver's command monitoring. */
const sent: { name: string; collection: string }[] = [];

beforeAll(async () => {
  store = await openStore(services().mongoUri, uniqueName("upkeep"), { monitorCommands: true });
  store.mongo.client.on("commandStarted", (event: CommandStartedEvent) => {
    const collection = event.command[event.commandName];
    if (typeof collection === "string") sent.push({ name: event.commandName, collection });
  });
});
afterAll(async () => {
  await store.mongo.db.dropDatabase();
  await store.close();
});

const record = (id: string, lines: string[]) => preparingRecord(id, lines);

describe("heartbeats", () => {
  it("stamp the time they are written, not the time they were asked for", async () => {
    // The store serialises one record's writes: a heartbeat asked for during a long write waits for
    // it. Its time must be read when it goes out, or it lands already old and the record looks stale.
    const order: string[] = [];
    const clock: Clock = {
      now: async () => {
        order.push("clock read");
        return new Date();
      },
    };
    const { collections } = store.mongo;
    const batches = new BatchStore(collections, store.fences, {
      guardInFilter: !store.mongo.filtersOnlyById,
      clock,
    });
    const id = uniqueName("bgb_beat");
    await batches.prepare(record(id, ["req_a:0"]));
    order.length = 0;
    const trimmed = batches.trimLines(id, ["req_a:0"], 0).then((ok) => {
      order.push("earlier write done");
      return ok;
    });
    const beat = batches.heartbeat(id, 0);
    expect(await trimmed).toBe(true);
    expect(await beat).toBe(true);
    expect(order).toEqual(["earlier write done", "clock read"]);
  });
});

describe("a record's lines are read in bulk", () => {
  const LINES = 1200;

  it("their fences' holders: one query per 1,000", async () => {
    const recordId = uniqueName("bgb_fences");
    const lines = Array.from({ length: LINES }, (_, i) => `req_${recordId}_${i}:0`);
    const fences = lines.map((line) => fenceIds.line(line));
    // The record won all but the first ten; another record holds those.
    await store.fences.claimMany(fences.slice(0, 10), "bgb_other");
    await store.fences.claimMany(fences.slice(10), recordId);
    sent.length = 0;
    const holders = await store.fences.holders([...fences, fenceIds.line("req_never:0")]);
    expect(holders.size).toBe(LINES);
    expect(holders.get(fences[0]!)).toBe("bgb_other");
    expect(holders.get(fences[LINES - 1]!)).toBe(recordId);
    expect(holders.has(fenceIds.line("req_never:0"))).toBe(false);
    expect(sent.filter((c) => c.name === "find" && c.collection === "fences").length).toBe(2);
  });

  it("their bodies: one query per 500", async () => {
    const prefix = uniqueName("req_body");
    const jobs: CollateJob[] = Array.from({ length: LINES }, (_, i) =>
      collateJob(`${prefix}_${i}`, {
        body: JSON.stringify({ model: "m", messages: [{ role: "user", content: `line ${i}` }] }),
      }),
    );
    await store.requests.ensure(jobs);
    sent.length = 0;
    const bodies = await store.requests.bodies([...jobs.map((j) => j.requestId), `${prefix}_missing`]);
    expect(bodies.size).toBe(LINES);
    expect(JSON.parse(bodies.get(`${prefix}_7`)!).messages[0].content).toBe("line 7");
    expect(sent.filter((c) => c.name === "find" && c.collection === "requests").length).toBe(3);
  });

  it("their requests, as `get` sees each, in four queries; sent again in one update per attempt", async () => {
    const prefix = uniqueName("req_many");
    const recordId = uniqueName("bgb_many");
    const jobs: CollateJob[] = Array.from({ length: 300 }, (_, i) => collateJob(`${prefix}_${i}`));
    await store.requests.ensure(jobs);
    await store.batches.prepare(
      record(
        recordId,
        jobs.map((j) => `${j.requestId}:0`),
      ),
    );
    // All but the last 100 are in the record; the first ten are finished.
    await store.fences.claimMany(
      jobs.slice(0, 200).map((j) => fenceIds.line(`${j.requestId}:0`)),
      recordId,
    );
    const answer = { statusCode: 200, body: "{}" };
    for (const j of jobs.slice(0, 10)) await store.requests.finish(j.requestId, "succeeded", answer, null);
    const ids = jobs.map((j) => j.requestId);
    sent.length = 0;
    const views = await store.requests.getMany(ids);
    expect(sent.filter((c) => c.name === "find").length).toBe(4);
    for (const id of [ids[0]!, ids[50]!, ids[250]!]) {
      const one = await store.requests.get(id);
      expect(views.get(id)).toEqual(one);
    }
    expect(views.get(ids[0]!)?.state).toBe("succeeded");
    expect(views.get(ids[50]!)?.batchId).toBe(recordId);
    expect(views.get(ids[250]!)?.batchId).toBeNull();

    sent.length = 0;
    await store.requests.requeueMany([
      ...ids.slice(10, 150).map((id) => ({ id, attempt: 1 })),
      ...ids.slice(150, 200).map((id) => ({ id, attempt: 1, innocent: true })),
    ]);
    expect(sent.filter((c) => c.name === "update").length).toBe(2);
    // Never backwards: an older attempt sent again later leaves the newer one.
    await store.requests.requeueMany([{ id: ids[20]!, attempt: 3 }]);
    await store.requests.requeueMany([{ id: ids[20]!, attempt: 2 }]);
    const after = await store.requests.getMany([ids[20]!, ids[160]!, ids[5]!]);
    expect(after.get(ids[20]!)?.attempt).toBe(3);
    expect(after.get(ids[160]!)).toMatchObject({ attempt: 1, innocentResubmits: 1 });
    expect(after.get(ids[5]!)?.attempt).toBe(0);
  });
});

describe("a record's line list is stored as one text", () => {
  it("records written before, with a line array, are read and trimmed as they are, then kept as one text", async () => {
    const id = uniqueName("bgb_old");
    const lines = ["req_a:0", "req_b:0", "req_c:1"];
    // As the previous version wrote it.
    await store.mongo.collections.batches.insertOne(record(id, lines));
    expect((await store.batches.get(id))?.lines).toEqual(lines);
    expect(await store.batches.linesOf(id)).toEqual(lines);
    expect(await store.batches.lineCount(id)).toBe(3);
    expect(await store.batches.trimLines(id, ["req_a:0", "req_c:1"], 0)).toBe(true);
    const raw = await store.mongo.collections.batches.findOne({ _id: id });
    expect(raw?.lines).toBeUndefined();
    expect(raw?.linesText).toBe(JSON.stringify(["req_a:0", "req_c:1"]));
    expect((await store.batches.get(id))?.lines).toEqual(["req_a:0", "req_c:1"]);
  });

  it("new records keep no array of lines", async () => {
    const id = uniqueName("bgb_new");
    await store.batches.prepare(record(id, ["req_x:0", "req_y:0"]));
    const raw = await store.mongo.collections.batches.findOne({ _id: id });
    expect(raw).toMatchObject({ linesText: JSON.stringify(["req_x:0", "req_y:0"]) });
    expect(raw?.lines).toBeUndefined();
    expect(await store.batches.summary(id)).not.toHaveProperty("linesText");
    expect((await store.batches.get(id))?.lines).toEqual(["req_x:0", "req_y:0"]);
  });
});
