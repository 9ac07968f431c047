import { eventually, preparingRecord, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A batch record keeps its line list only while it is live: the transition that finishes it drops the
// list, and the poller drops, at start, the lists of records an earlier version finished. Its line
// manifest goes once the poller has settled it (settling is its only reader), and a poller drops at
// start the manifests of finished records left behind. On FerretDB v1 every read of a live record
// decoded every finished record's list, and every manifest read every manifest: the cost of history
// (issue 9, target 2).

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ batchDurationMs: 500 });
});
afterAll(async () => {
  await stack?.close();
});

const chat = (content: string, model: string) => ({
  model,
  messages: [{ role: "user" as const, content }],
});

describe("finished batch records", () => {
  it("a settled batch's record read raw from the collection has no line list, and its manifest is gone", async () => {
    const model = "gpt-finished-lines";
    const prompts = ["f1", "f2", "f3"];
    const answers = await Promise.all(
      prompts.map((p) => stack.client.chat.completions.create(chat(p, model))),
    );
    expect(answers.map((a) => a.choices[0]?.message.content)).toEqual(prompts.map((p) => `echo: ${p}`));
    const batches = stack.store.mongo.collections.batches;
    const record = await eventually(
      async () => (await batches.findOne({ model, state: "done" })) ?? undefined,
      20_000,
      "the batch record to be done",
    );
    expect(record).not.toHaveProperty("linesText");
    expect(record).not.toHaveProperty("lines");
    expect(record.lineCount).toBe(3);
    expect(await stack.store.batches.lineCount(record._id)).toBe(3);
    // Dropped right after the settle's log line: looked at until then.
    await eventually(
      async () => ((await stack.store.lines.read(record._id)).size === 0 ? true : undefined),
      10_000,
      "the settled batch's manifest to be dropped",
    );
  });

  it("records an earlier version finished lose their lists when a poller starts", async () => {
    const { lines, ...fields } = preparingRecord("bgb_upgrade_done", ["req_u1:0", "req_u2:0"]);
    const text = JSON.stringify(lines);
    // As the previous version left them: the list kept, no count; one of them refused (no provider batch).
    await stack.store.mongo.collections.batches.insertMany([
      {
        ...fields,
        state: "done",
        linesText: text,
        providerBatchId: "batch_upgrade_done",
        providerBatch: JSON.stringify({ id: "batch_upgrade_done", status: "completed" }),
        status: "completed",
      },
      { ...fields, _id: "bgb_upgrade_refused", state: "done", linesText: text, verdict: "upload_refused" },
    ]);
    await stack.startPoller();
    const dropped = await eventually(
      async () => {
        const docs = await stack.store.mongo.collections.batches
          .find({ _id: { $in: ["bgb_upgrade_done", "bgb_upgrade_refused"] } })
          .toArray();
        return docs.every((d) => d.linesText === undefined) ? docs : undefined;
      },
      20_000,
      "the finished records' lists to be dropped",
    );
    expect(dropped).toHaveLength(2);
    for (const doc of dropped) expect(doc).not.toHaveProperty("lines");
    expect(await stack.store.batches.lineCount("bgb_upgrade_refused")).toBe(2);
  });

  it("manifests of finished records left behind are dropped when a poller starts, a live record's kept", async () => {
    const lines = (id: string) => [
      { requestId: `req_${id}_1`, attempt: 0, key: `k_${id}_1`, owner: "t" },
      { requestId: `req_${id}_2`, attempt: 0, key: `k_${id}_2`, owner: "t" },
    ];
    const { lines: _, ...fields } = preparingRecord("bgb_manifest_done", ["req_m1:0"]);
    await stack.store.mongo.collections.batches.insertMany([
      { ...fields, state: "done", lineCount: 2 },
      // Live: being prepared by a collator (its heartbeat fresh, nobody takes it over meanwhile).
      { ...fields, _id: "bgb_manifest_live", linesText: JSON.stringify(["req_m1:0"]) },
    ]);
    for (const id of ["bgb_manifest_done", "bgb_manifest_live", "bgb_manifest_gone"])
      await stack.store.lines.write(id, lines(id));
    await stack.startPoller();
    await eventually(
      async () => ((await stack.store.lines.read("bgb_manifest_done")).size === 0 ? true : undefined),
      20_000,
      "the finished record's manifest to be dropped",
    );
    // A record retention deleted is as finished; the live one keeps its manifest.
    expect((await stack.store.lines.read("bgb_manifest_gone")).size).toBe(0);
    expect((await stack.store.lines.read("bgb_manifest_live")).size).toBe(2);
    await stack.store.mongo.collections.batches.deleteOne({ _id: "bgb_manifest_live" });
  });
});
