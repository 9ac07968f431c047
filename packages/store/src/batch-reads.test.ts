import type { BatchRecord, BatchState } from "@batch-gpt/contracts";
import { services, uniqueName } from "@batch-gpt/testing";
import type { CommandSucceededEvent } from "mongodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "./index.ts";

// Nothing reads a whole collection into memory: the batches API reads one page, the sweeps read the
// records they act on without their line lists, a page at a time. What crossed the wire is counted with
// the driver's command monitoring (documents and their fields in every reply), not timed.

const LINES = 1000;
const RECORDS = 60;

let store: Store;
/** The documents each find / getMore reply carried from `batches`, since the last reset. */
let fetched: Record<string, unknown>[] = [];
let replies = 0;

const record = (i: number, state: BatchState, over: Partial<BatchRecord> = {}): BatchRecord => {
  const at = new Date(Date.UTC(2025, 0, 1) + i * 1000);
  return {
    _id: `bgb_${String(i).padStart(4, "0")}`,
    provider: "openai",
    endpoint: "/v1/chat/completions",
    model: "m",
    state,
    lines: Array.from({ length: LINES }, (_, l) => `req_${i}_${String(l).padStart(6, "0")}:0`),
    generation: 0,
    owner: "c",
    heartbeatAt: new Date(),
    inputFileId: null,
    providerBatchId: state === "submitted" || state === "done" ? `batch_${i}` : null,
    providerCreatedAt: state === "submitted" || state === "done" ? Math.floor(at.getTime() / 1000) : null,
    providerBatch: state === "submitted" || state === "done" ? JSON.stringify({ id: `batch_${i}` }) : null,
    status: state === "done" ? "completed" : state === "submitted" ? "in_progress" : null,
    history: [],
    createdAt: at,
    updatedAt: at,
    ...over,
  };
};

const STATES: BatchState[] = ["submitted", "done", "preparing"];
const longAgo = new Date(Date.now() - 3_600_000);

beforeAll(async () => {
  store = await openStore(services().mongoUri, uniqueName("reads"), { monitorCommands: true });
  store.mongo.client.on("commandSucceeded", (event: CommandSucceededEvent) => {
    const reply = event.reply as { cursor?: { ns?: string; firstBatch?: object[]; nextBatch?: object[] } };
    if (!reply.cursor?.ns?.endsWith(".batches")) return;
    replies++;
    fetched.push(...((reply.cursor.firstBatch ?? reply.cursor.nextBatch ?? []) as Record<string, unknown>[]));
  });
  // 20 of each state; 5 of the records still collating have a collator that stopped reporting.
  await store.batches.insertMany(
    Array.from({ length: RECORDS }, (_, i) =>
      record(i, STATES[i % 3]!, STATES[i % 3] === "preparing" && i < 15 ? { heartbeatAt: longAgo } : {}),
    ),
  );
});
afterAll(async () => {
  await store?.mongo.db.dropDatabase().catch(() => {});
  await store?.close();
});
beforeEach(() => {
  fetched = [];
  replies = 0;
});

const withLines = () => fetched.filter((doc) => "lines" in doc).length;

describe("GET /v1/batches (BatchStore.list)", () => {
  it("reads one page, without line lists, and pages through every batch in order", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      fetched = [];
      const page = await store.batches.list({ limit: 7, after });
      // The page, one record to tell whether there is more, and the cursor's record.
      expect(fetched.length).toBeLessThanOrEqual(7 + 1 + (after ? 1 : 0));
      expect(withLines()).toBe(0);
      seen.push(...page.records.map((r) => r.providerBatchId!));
      if (!page.hasMore) break;
      after = page.records.at(-1)!.providerBatchId!;
    }
    expect(replies).toBeGreaterThan(0);
    const submitted = Array.from({ length: RECORDS }, (_, i) => i)
      .filter((i) => STATES[i % 3] !== "preparing")
      .reverse()
      .map((i) => `batch_${i}`);
    expect(seen).toEqual(submitted);
  });

  it("filters by status in the database", async () => {
    const page = await store.batches.list({ limit: 100, status: "completed" });
    expect(page.records).toHaveLength(20);
    expect(fetched.length).toBe(20);
    expect(withLines()).toBe(0);
  });

  it("answers an unknown cursor with an empty page", async () => {
    expect(await store.batches.list({ limit: 5, after: "batch_unknown" })).toEqual({
      records: [],
      hasMore: false,
    });
  });
});

describe("the sweeps", () => {
  it("recovery reads only the stale records still collating, without their lines", async () => {
    const stale: string[] = [];
    for await (const page of store.batches.staleCollating(new Date(Date.now() - 60_000))) {
      stale.push(...page.map((r) => r._id));
    }
    expect(stale).toEqual(["bgb_0002", "bgb_0005", "bgb_0008", "bgb_0011", "bgb_0014"]);
    expect(fetched.length).toBe(5);
    expect(withLines()).toBe(0);
  });

  it("the poll sweep reads the submitted records' ids only, a page at a time", async () => {
    const ids: string[] = [];
    for await (const page of store.batches.idsIn(["submitted"])) ids.push(...page.map((r) => r._id));
    expect(ids).toHaveLength(20);
    expect(fetched.length).toBe(20);
    for (const doc of fetched) expect(Object.keys(doc).sort()).toEqual(["_id", "createdAt"]);
  });
});

describe("indexes", () => {
  it("each app creates the ones its queries need, again and again without harm", async () => {
    for (const app of ["gateway", "collator", "poller"] as const) {
      await store.ensureIndexes(app);
      await store.ensureIndexes(app);
    }
    const names = (await store.mongo.collections.batches.listIndexes().toArray()).map((i) => i.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "providerCreatedAt_createdAt",
        "providerBatchId",
        "createdAt",
        "state_createdAt",
      ]),
    );
    const cache = (await store.mongo.collections.cache.listIndexes().toArray()).map((i) => i.name);
    expect(cache).toContain("createdAt");
  });
});
