import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatLine, type Harness, harness } from "../test-support.ts";
import { tokens } from "../text.ts";

describe("Batches API", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.emu.close();
  });

  it("runs validating → in_progress → finalizing → completed and writes the output", async () => {
    const texts = Array.from({ length: 6 }, (_, i) => `question number ${i}`);
    const file = await h.upload(texts.map((t, i) => chatLine(`c${i}`, t)));
    const created = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { record: "r1" },
    });
    expect(created).toMatchObject({
      object: "batch",
      status: "validating",
      endpoint: "/v1/chat/completions",
      input_file_id: file.id,
      completion_window: "24h",
      model: "gpt-4o-mini",
      metadata: { record: "r1" },
      request_counts: { total: 0, completed: 0, failed: 0 },
      output_file_id: null,
      error_file_id: null,
      errors: null,
      in_progress_at: null,
      completed_at: null,
    });
    expect(created.expires_at).toBe(created.created_at + 86_400);
    const seen = new Set<string>([created.status]);
    let batch = created;
    for (let i = 0; i < 500 && batch.status !== "completed"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      batch = await h.client.batches.retrieve(created.id);
      seen.add(batch.status);
    }
    expect(batch.status).toBe("completed");
    expect(seen.has("in_progress") || seen.has("finalizing")).toBe(true);
    for (const k of ["in_progress_at", "finalizing_at", "completed_at"] as const)
      expect(batch[k]).toBeTypeOf("number");
    for (const k of ["failed_at", "expired_at", "cancelling_at", "cancelled_at"] as const)
      expect(batch[k]).toBeNull();
    expect(batch.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
    expect(batch.error_file_id).toBeNull();
    const out = await h.lines(batch.output_file_id);
    expect(out.map((l) => l.custom_id).sort()).toEqual(texts.map((_, i) => `c${i}`).sort());
    let input = 0;
    let output = 0;
    for (const line of out) {
      const i = Number(String(line.custom_id).slice(1));
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response.status_code).toBe(200);
      expect(line.response.request_id).toBeTypeOf("string");
      expect(line.response.body.object).toBe("chat.completion");
      expect(line.response.body.choices[0].message.content).toBe(`echo: ${texts[i]}`);
      input += tokens(texts[i] ?? "");
      output += tokens(`echo: ${texts[i]}`);
    }
    expect(batch.usage).toMatchObject({
      input_tokens: input,
      output_tokens: output,
      total_tokens: input + output,
    });
    const outFile = await h.client.files.retrieve(batch.output_file_id ?? "");
    expect(outFile.purpose).toBe("batch_output");
  });

  it("cancels into cancelled, then answers 409 for a finished batch", async () => {
    const file = await h.upload([chatLine("a", "one"), chatLine("b", "two")]);
    const batch = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const cancelling = await h.client.batches.cancel(batch.id);
    expect(cancelling.status).toBe("cancelling");
    expect(cancelling.cancelling_at).toBeTypeOf("number");
    expect((await h.client.batches.cancel(batch.id)).status).toMatch(/cancelling|cancelled/);
    const done = await h.waitTerminal(batch.id);
    expect(done.status).toBe("cancelled");
    expect(done.cancelled_at).toBeTypeOf("number");
    await expect(h.client.batches.cancel(batch.id)).rejects.toMatchObject({
      status: 409,
      error: { message: "Cannot cancel a batch with status 'cancelled'.", type: "invalid_request_error" },
    });

    const file2 = await h.upload([chatLine("a", "one")]);
    const b2 = await h.client.batches.create({
      input_file_id: file2.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    expect((await h.waitTerminal(b2.id)).status).toBe("completed");
    await expect(h.client.batches.cancel(b2.id)).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining("Cannot cancel a batch with status 'completed'."),
    });
  });

  it("puts finished lines in the output and the rest as batch_cancelled when cancelled mid-way", async () => {
    const file = await h.upload(Array.from({ length: 10 }, (_, i) => chatLine(`m${i}`, `q${i}`)));
    await h.control("/next-batch", { outcome: "cancel", completeLines: 4 });
    const batch = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const done = await h.waitTerminal(batch.id);
    expect(done.status).toBe("cancelled");
    expect(done.request_counts).toEqual({ total: 10, completed: 4, failed: 6 });
    expect((await h.lines(done.output_file_id)).map((l) => l.custom_id).sort()).toEqual([
      "m0",
      "m1",
      "m2",
      "m3",
    ]);
    const errors = await h.lines(done.error_file_id);
    expect(errors).toHaveLength(6);
    for (const e of errors) {
      expect(e.response).toBeNull();
      expect(e.error.code).toBe("batch_cancelled");
    }
  });

  it("lists newest first and auto-paginates to the end", async () => {
    const h2 = await harness();
    try {
      const file = await h2.upload([chatLine("a", "x")]);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          (
            await h2.client.batches.create({
              input_file_id: file.id,
              endpoint: "/v1/chat/completions",
              completion_window: "24h",
            })
          ).id,
        );
      }
      const page = await h2.client.batches.list({ limit: 2 });
      expect(page.data.map((b) => b.id)).toEqual([ids[4], ids[3]]);
      expect(page.has_more).toBe(true);
      const raw = (await (
        await fetch(`${h2.emu.url}/batches?limit=2`, { headers: { authorization: "Bearer k" } })
      ).json()) as Record<string, unknown>;
      expect(raw).toMatchObject({ object: "list", first_id: ids[4], last_id: ids[3], has_more: true });
      const all: string[] = [];
      for await (const b of h2.client.batches.list({ limit: 2 })) all.push(b.id);
      expect(all).toEqual([...ids].reverse());
      await expect(h2.client.batches.list({ limit: 101 })).rejects.toMatchObject({
        status: 400,
        error: { param: "limit", code: "integer_above_max_value" },
      });
    } finally {
      await h2.emu.close();
    }
  });

  it("answers 404 for an unknown batch", async () => {
    await expect(h.client.batches.retrieve("batch_nope")).rejects.toMatchObject({
      status: 404,
      error: { message: "No batch found with id 'batch_nope'.", type: "invalid_request_error" },
    });
    await expect(h.client.batches.cancel("batch_nope")).rejects.toMatchObject({ status: 404 });
  });

  describe("create parameters", () => {
    let fileId: string;
    beforeAll(async () => {
      fileId = (await h.upload([chatLine("a", "x")])).id;
    });
    const create = (over: Record<string, unknown>) =>
      h.client.batches.create({
        input_file_id: fileId,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
        ...over,
      } as never);

    it("rejects an unsupported endpoint", async () => {
      await expect(create({ endpoint: "/v1/nope" })).rejects.toMatchObject({
        status: 400,
        error: {
          message:
            "Invalid value: '/v1/nope'. Supported values are: '/v1/chat/completions', '/v1/embeddings', '/v1/completions', and '/v1/responses'.",
          param: "endpoint",
          code: "invalid_value",
        },
      });
    });

    it("rejects a completion window other than 24h", async () => {
      await expect(create({ completion_window: "1h" })).rejects.toMatchObject({
        status: 400,
        error: { message: "Invalid value: '1h'. Supported values are: '24h'.", param: "completion_window" },
      });
    });

    it("rejects an unknown input file", async () => {
      await expect(create({ input_file_id: "file-missing" })).rejects.toMatchObject({
        status: 400,
        error: {
          message: expect.stringContaining("Cannot find file file-missing"),
          type: "invalid_request_error",
        },
      });
    });

    it("rejects metadata with 17 pairs, a long key, a long value or a non-string", async () => {
      const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
      await expect(create({ metadata: seventeen })).rejects.toMatchObject({
        status: 400,
        error: { param: "metadata", code: "object_above_max_properties" },
      });
      await expect(create({ metadata: { ["k".repeat(65)]: "v" } })).rejects.toMatchObject({
        status: 400,
        error: { param: `metadata.${"k".repeat(65)}` },
      });
      await expect(create({ metadata: { k: "v".repeat(513) } })).rejects.toMatchObject({
        status: 400,
        error: {
          message:
            "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but got a string with length 513 instead.",
          code: "string_above_max_length",
        },
      });
      await expect(create({ metadata: { tags: ["a"] } })).rejects.toMatchObject({
        status: 400,
        error: { param: "metadata.tags", code: "invalid_type" },
      });
      const ok = await create({
        metadata: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v"])),
      });
      expect(Object.keys(ok.metadata ?? {})).toHaveLength(16);
    });

    it("rejects a missing parameter", async () => {
      await expect(create({ completion_window: undefined })).rejects.toMatchObject({
        status: 400,
        error: { param: "completion_window", code: "missing_required_parameter" },
      });
    });
  });
});
