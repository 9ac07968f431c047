import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, harness } from "../test-support.ts";

describe("Files API", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.emu.close();
  });

  it("uploads with toFile, retrieves, reads content and deletes", async () => {
    const content = '{"a":1}\n{"b":2}\n';
    const file = await h.client.files.create({
      file: await toFile(Buffer.from(content), "in.jsonl"),
      purpose: "batch",
    });
    expect(file).toMatchObject({
      object: "file",
      bytes: content.length,
      filename: "in.jsonl",
      purpose: "batch",
    });
    expect(file.id).toMatch(/^file-/);
    expect(file.status).toBe("processed");
    expect(await h.client.files.retrieve(file.id)).toEqual(file);
    expect(await (await h.client.files.content(file.id)).text()).toBe(content);
    expect(await h.client.files.delete(file.id)).toEqual({ id: file.id, object: "file", deleted: true });
    await expect(h.client.files.retrieve(file.id)).rejects.toMatchObject({
      status: 404,
      error: {
        message: `No such File object: ${file.id}`,
        type: "invalid_request_error",
        param: "id",
        code: null,
      },
    });
  });

  it("keeps a large upload byte for byte", async () => {
    const line = `${JSON.stringify({ x: "y".repeat(1000) })}\n`;
    const big = Buffer.from(line.repeat(5000));
    const file = await h.client.files.create({ file: await toFile(big, "big.jsonl"), purpose: "batch" });
    expect(file.bytes).toBe(big.length);
    const back = Buffer.from(await (await h.client.files.content(file.id)).arrayBuffer());
    expect(back.equals(big)).toBe(true);
  });

  it("rejects a batch file not ending .jsonl with OpenAI's 400", async () => {
    await expect(
      h.client.files.create({ file: await toFile(Buffer.from("{}"), "notes.txt"), purpose: "batch" }),
    ).rejects.toMatchObject({
      status: 400,
      error: {
        message: "Invalid file format for Batch API. Must be .jsonl",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  });

  it("rejects a missing purpose and an upload over the size limit", async () => {
    const small = await harness({ maxUploadBytes: 10 });
    try {
      await expect(
        small.client.files.create({
          file: await toFile(Buffer.from("x".repeat(11)), "a.jsonl"),
          purpose: "batch",
        }),
      ).rejects.toMatchObject({ status: 400, error: { message: "File is too large." } });
      const form = new FormData();
      form.append("file", new Blob(["{}"]), "a.jsonl");
      const res = await fetch(`${small.emu.url}/files`, {
        method: "POST",
        headers: { authorization: "Bearer k" },
        body: form,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: { param: "purpose", code: "missing_required_parameter" },
      });
    } finally {
      await small.emu.close();
    }
  });

  it("lists with purpose, order, limit and after", async () => {
    const h2 = await harness();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await h2.upload([{ i }], `f${i}.jsonl`)).id);
      await h2.client.files.create({ file: await toFile(Buffer.from("x"), "v.png"), purpose: "vision" });
      const all = [];
      for await (const f of h2.client.files.list({ purpose: "batch", limit: 2 })) all.push(f.id);
      expect(all).toEqual([...ids].reverse());
      const asc = await h2.client.files.list({ order: "asc", purpose: "batch" });
      expect(asc.data.map((f) => f.id)).toEqual(ids);
      const page = await h2.client.files.list({ purpose: "batch", limit: 1, after: ids[2] });
      expect(page.data.map((f) => f.id)).toEqual([ids[1]]);
      expect(page.has_more).toBe(true);
    } finally {
      await h2.emu.close();
    }
  });

  it("shrugs off a client that dies mid-upload: no stray rejection, no temp file, still serving", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "emu-abort-"));
    const h2 = await harness({ stateDir });
    const stray: unknown[] = [];
    const onStray = (reason: unknown) => stray.push(reason);
    process.on("unhandledRejection", onStray);
    try {
      // A collator killed while its batch file is on the wire: the file part has begun, the body is
      // far from its declared length, and the socket is reset.
      const boundary = "----dies-mid-upload";
      const head = [
        `--${boundary}`,
        'Content-Disposition: form-data; name="purpose"',
        "",
        "batch",
        `--${boundary}`,
        'Content-Disposition: form-data; name="file"; filename="in.jsonl"',
        "Content-Type: application/octet-stream",
        "",
        '{"custom_id":"a"}',
      ].join("\r\n");
      const socket = connect(h2.emu.port, "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      socket.write(
        [
          "POST /v1/files HTTP/1.1",
          "Host: 127.0.0.1",
          "Authorization: Bearer k",
          `Content-Type: multipart/form-data; boundary=${boundary}`,
          "Content-Length: 1000000",
          "",
          head,
        ].join("\r\n"),
      );
      const tmp = join(stateDir, "tmp");
      for (let i = 0; i < 200 && readdirSync(tmp).length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(readdirSync(tmp)).toHaveLength(1); // the upload reached the disk before the client died
      socket.resetAndDestroy();
      for (let i = 0; i < 200 && readdirSync(tmp).length > 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50)); // a stray rejection is reported a turn later
      expect(stray).toEqual([]);
      expect(readdirSync(tmp)).toEqual([]);
      const file = await h2.upload([{ after: "abort" }]);
      expect(file.status).toBe("processed");
    } finally {
      process.off("unhandledRejection", onStray);
      await h2.emu.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
