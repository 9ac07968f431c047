import { eventually, preparingRecord, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A batch record keeps its line list only while it is live: the transition that finishes it drops the
// list (its line manifest keeps what settling needed), and the poller drops, at start, the lists of
// records an earlier version finished. On FerretDB v1 every read of a live record decoded every
// finished record's list: the cost of history (issue 9, target 2).

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
  it("a settled batch's record read raw from the collection has no line list, and its manifest keeps the lines", async () => {
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
    expect((await stack.store.lines.read(record._id)).size).toBe(3);
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
});
