import { toFile } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chatLine, type Harness, harness } from "../test-support.ts";

describe("fault injection and the control API", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.control("/faults", undefined, "DELETE");
  });
  afterAll(async () => {
    await h.emu.close();
  });

  const createBatch = async (lines: unknown[]) => {
    const file = await h.upload(lines);
    return h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
  };

  it("fails files.create the queued number of times, then recovers", async () => {
    expect((await h.control("/faults", { target: "files.create", status: 500, times: 2 })).status).toBe(200);
    const up = async () =>
      h.client.files.create({ file: await toFile(Buffer.from("{}"), "a.jsonl"), purpose: "batch" });
    await expect(up()).rejects.toMatchObject({ status: 500, error: { type: "server_error" } });
    await expect(up()).rejects.toMatchObject({ status: 500 });
    expect((await up()).id).toMatch(/^file-/);
  });

  it("answers 429 with retry-after on batches.create", async () => {
    const file = await h.upload([chatLine("a", "x")]);
    await h.control("/faults", { target: "batches.create", status: 429, retryAfterSeconds: 7 });
    const err = await h.client.batches
      .create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })
      .catch((e: unknown) => e as { status: number; headers: Headers; error: { code: string } });
    expect(err).toMatchObject({ status: 429, error: { code: "rate_limit_exceeded" } });
    expect((err as { headers: Headers }).headers.get("retry-after")).toBe("7");
    const before = (await (await h.control("/stats")).json()) as { batchesCreated: number };
    await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const after = (await (await h.control("/stats")).json()) as { batchesCreated: number };
    expect(after.batchesCreated).toBe(before.batchesCreated + 1);
  });

  it("fails batches.retrieve, batches.list, batches.cancel and files.content", async () => {
    const batch = await createBatch([chatLine("a", "x")]);
    const file = await h.upload([chatLine("a", "x")]);
    await h.control("/faults", { target: "batches.retrieve", status: 503 });
    await h.control("/faults", { target: "batches.list", status: 500 });
    await h.control("/faults", { target: "batches.cancel", status: 500 });
    await h.control("/faults", { target: "files.content", status: 503 });
    await expect(h.client.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 503 });
    await expect(h.client.batches.list()).rejects.toMatchObject({ status: 500 });
    await expect(h.client.batches.cancel(batch.id)).rejects.toMatchObject({ status: 500 });
    await expect(h.client.files.content(file.id)).rejects.toMatchObject({ status: 503 });
    expect((await h.client.batches.retrieve(batch.id)).id).toBe(batch.id);
  });

  it("delays without failing when status is omitted, and DELETE clears queued faults", async () => {
    await h.control("/faults", { target: "batches.list", delayMs: 50 });
    const page = await h.client.batches.list();
    expect(Array.isArray(page.data)).toBe(true);
    await h.control("/faults", { target: "batches.list", status: 500, times: 5 });
    expect((await h.control("/faults", undefined, "DELETE")).status).toBe(200);
    await expect(h.client.batches.list()).resolves.toBeDefined();
    const bad = await h.control("/faults", { target: "nope", status: 500 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });

  it("an `after` fault lets batches.create take effect, then fails its reply", async () => {
    const file = await h.upload([chatLine("a", "x")]);
    await h.control("/faults", { target: "batches.create", status: 500, after: true });
    const before = (await (await h.control("/stats")).json()) as { batchesCreated: number };
    await expect(
      h.client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
        metadata: { record: "lost-reply" },
      }),
    ).rejects.toMatchObject({ status: 500 });
    const after = (await (await h.control("/stats")).json()) as {
      batchesCreated: number;
      batches: { metadata: Record<string, string> | null }[];
    };
    expect(after.batchesCreated).toBe(before.batchesCreated + 1);
    expect(after.batches.filter((b) => b.metadata?.record === "lost-reply")).toHaveLength(1);
    const refused = await h.control("/faults", { target: "batches.list", status: 500, after: true });
    expect(refused.status).toBe(400);
  });

  it("answers the statuses that never change: 401, 403 and 404", async () => {
    for (const status of [401, 403, 404]) {
      await h.control("/faults", { target: "batches.retrieve", status });
      await expect(h.client.batches.retrieve("batch_any")).rejects.toMatchObject({ status });
    }
  });

  it("stalls a file's content after some bytes until the faults are cleared", async () => {
    const file = await h.upload([chatLine("a", "x"), chatLine("b", "y")]);
    await h.control("/faults", { target: "files.content", stallAfterBytes: 10 });
    const response = await fetch(`${h.emu.url}/files/${file.id}/content`, {
      headers: { authorization: "Bearer sk-test" },
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let received = 0;
    while (received < 10) received += (await reader.read()).value?.length ?? 0;
    expect(received).toBe(10);
    const next = reader.read();
    const state = await Promise.race([next.then(() => "more"), h.control("/faults").then(() => "held")]);
    expect(state).toBe("held");
    await h.control("/faults", undefined, "DELETE");
    await expect(next).rejects.toBeDefined();
    expect(file.bytes).toBeGreaterThan(10);
  });

  it("puts fail-marker lines in the error file with their status and body", async () => {
    const batch = await createBatch([
      chatLine("ok", "fine"),
      chatLine("e400", "bad [[fail:400]]"),
      chatLine("e429", "slow [[fail:429]]"),
      chatLine("e500", "boom [[fail:500]]"),
    ]);
    const done = await h.waitTerminal(batch.id);
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: 4, completed: 1, failed: 3 });
    const errors = await h.lines(done.error_file_id);
    const byId = Object.fromEntries(errors.map((e) => [e.custom_id, e]));
    for (const status of [400, 429, 500]) {
      const line = byId[`e${status}`];
      expect(line?.error).toBeNull();
      expect(line?.response.status_code).toBe(status);
      expect(line?.response.request_id).toBeTypeOf("string");
      expect(line?.response.body.error).toMatchObject({
        message: expect.any(String),
        type: expect.any(String),
      });
    }
    expect((await h.lines(done.output_file_id)).map((l) => l.custom_id)).toEqual(["ok"]);
  });

  it("completes with output_file_id null when every line failed", async () => {
    const done = await h.waitTerminal((await createBatch([chatLine("a", "[[fail:500]]")])).id);
    expect(done).toMatchObject({ status: "completed", output_file_id: null });
    expect(done.error_file_id).toMatch(/^file-/);
  });

  it("next-batch failed_validation and token_limit_exceeded fail the next batch only", async () => {
    await h.control("/next-batch", { outcome: "failed_validation" });
    const failed = await h.waitTerminal((await createBatch([chatLine("a", "x")])).id);
    expect(failed.status).toBe("failed");
    expect(failed.errors?.data?.length).toBeGreaterThan(0);

    await h.control("/next-batch", { outcome: "token_limit_exceeded" });
    const limited = await h.waitTerminal((await createBatch([chatLine("a", "x", "gpt-4.1")])).id);
    expect(limited.status).toBe("failed");
    expect(limited.errors?.data?.[0]).toMatchObject({
      code: "token_limit_exceeded",
      message:
        "Enqueued token limit reached for gpt-4.1 in organization org-emulator. Limit: 90,000 enqueued tokens. Please try again once some in_progress batches have been completed.",
    });
    expect((await h.waitTerminal((await createBatch([chatLine("a", "x")])).id)).status).toBe("completed");
  });

  it("next-batch durationMs makes the next batch run that long, then completes it as usual", async () => {
    await h.control("/next-batch", { outcome: "complete", durationMs: 60_000 });
    const slow = await createBatch([chatLine("s", "slow")]);
    const quick = await h.waitTerminal((await createBatch([chatLine("q", "quick")])).id);
    expect(quick.status).toBe("completed");
    // The quick one ran its whole course; the slow one is still under way.
    expect(["validating", "in_progress"]).toContain((await h.client.batches.retrieve(slow.id)).status);
    expect((await h.client.batches.cancel(slow.id)).status).toBe("cancelling");
  });

  it("next-batch expire answers the first lines and expires the rest", async () => {
    await h.control("/next-batch", { outcome: "expire" });
    const lines = Array.from({ length: 6 }, (_, i) => chatLine(`x${i}`, `q${i}`));
    const done = await h.waitTerminal((await createBatch(lines)).id);
    expect(done.status).toBe("expired");
    expect(done.expired_at).toBeTypeOf("number");
    expect(done.request_counts).toEqual({ total: 6, completed: 3, failed: 3 });
    expect((await h.lines(done.output_file_id)).map((l) => l.custom_id).sort()).toEqual(["x0", "x1", "x2"]);
    const expired = await h.lines(done.error_file_id);
    expect(expired.map((l) => l.custom_id).sort()).toEqual(["x3", "x4", "x5"]);
    for (const e of expired) {
      expect(e.response).toBeNull();
      expect(e.error).toMatchObject({ code: "batch_expired", message: expect.any(String) });
    }
  });

  it("expires a given batch now through /batches/{id}/expire", async () => {
    const slow = await harness({ batchDurationMs: 60_000 });
    try {
      const file = await slow.upload(Array.from({ length: 4 }, (_, i) => chatLine(`y${i}`, `q${i}`)));
      const batch = await slow.client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
      const res = await slow.control(`/batches/${batch.id}/expire`, { completeLines: 1 });
      expect(res.status).toBe(200);
      const done = await slow.client.batches.retrieve(batch.id);
      expect(done.status).toBe("expired");
      expect(done.request_counts).toEqual({ total: 4, completed: 1, failed: 3 });
      expect((await slow.control(`/batches/${batch.id}/expire`, {})).status).toBe(409);
      expect((await slow.control("/batches/batch_nope/expire", {})).status).toBe(404);
    } finally {
      await slow.emu.close();
    }
  });

  it("reports stats of files, batches, lines and realtime requests", async () => {
    const h2 = await harness();
    try {
      const file = await h2.upload([chatLine("a", "x"), chatLine("b", "y")]);
      const batch = await h2.client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
        metadata: { record: "r9" },
      });
      await h2.client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
      const stats = await (await h2.control("/stats")).json();
      expect(stats).toMatchObject({
        filesUploaded: 1,
        batchesCreated: 1,
        linesSubmitted: 2,
        realtimeRequests: 1,
        batches: [
          {
            id: batch.id,
            endpoint: "/v1/chat/completions",
            model: "gpt-4o-mini",
            lines: 2,
            metadata: { record: "r9" },
          },
        ],
      });
    } finally {
      await h2.emu.close();
    }
  });
});
