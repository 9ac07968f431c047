/** Files API: upload (streamed to disk), list, retrieve, content, delete. */
import { createReadStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Hono } from "hono";
import { type Deps, intQuery, listPage } from "../deps.ts";
import { ApiError, invalidRequest, missingParameter } from "../errors.ts";
import { hex, newId, nowSeconds } from "../ids.ts";
import { parseUpload } from "../multipart.ts";
import type { FilePurpose, FileRecord } from "../types.ts";

const UPLOAD_PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"] as const;

export function fileNotFound(id: string): ApiError {
  return new ApiError(404, `No such File object: ${id}`, { param: "id" });
}

export function filesRouter(deps: Deps): Hono {
  const { state, faults } = deps;
  const app = new Hono();
  const mustGet = (id: string): FileRecord => {
    const file = state.files.get(id);
    if (!file) throw fileNotFound(id);
    return file;
  };

  app.post("/", async (c) => {
    const fault = await faults.apply("files.create");
    const tmp = state.tmpPath(`upload-${hex(8)}`);
    const { fields, file } = await parseUpload(
      c.req.raw.headers,
      c.req.raw.body as WebReadableStream<Uint8Array> | null,
      tmp,
      deps.maxUploadBytes,
    );
    try {
      const purpose = fields.purpose;
      if (purpose === undefined) throw missingParameter("purpose");
      if (!(UPLOAD_PURPOSES as readonly string[]).includes(purpose)) {
        throw invalidRequest(
          `Invalid value: '${purpose}'. Supported values are: 'assistants', 'batch', 'fine-tune', 'vision', 'user_data', and 'evals'.`,
          "purpose",
          "invalid_value",
        );
      }
      if (!file) throw missingParameter("file");
      if (file.tooLarge) throw invalidRequest("File is too large.");
      if (purpose === "batch" && !file.filename.toLowerCase().endsWith(".jsonl")) {
        throw invalidRequest("Invalid file format for Batch API. Must be .jsonl");
      }
      const id = newId.file();
      await rename(tmp, state.filePath(id));
      const created = nowSeconds();
      const record: FileRecord = {
        id,
        object: "file",
        bytes: file.bytes,
        created_at: created,
        expires_at: purpose === "batch" ? created + 30 * 24 * 3600 : null,
        filename: file.filename,
        purpose: purpose as FilePurpose,
        status: "processed",
        status_details: null,
      };
      state.files.set(id, record);
      state.counters.filesUploaded += 1;
      await state.save();
      if (fault?.after) await faults.inflict(fault);
      return c.json(record);
    } finally {
      await rm(tmp, { force: true });
    }
  });

  app.get("/", async (c) => {
    await faults.apply("files.list");
    const limit = intQuery(c.req.query("limit"), "limit", 10_000, 1, 10_000);
    const order = c.req.query("order") ?? "desc";
    if (order !== "asc" && order !== "desc") {
      throw invalidRequest(
        `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`,
        "order",
        "invalid_value",
      );
    }
    const purpose = c.req.query("purpose");
    let files = [...state.files.values()].filter((f) => purpose === undefined || f.purpose === purpose);
    if (order === "desc") files.reverse();
    const after = c.req.query("after");
    if (after) {
      const i = files.findIndex((f) => f.id === after);
      files = i < 0 ? [] : files.slice(i + 1);
    }
    return c.json(listPage(files.slice(0, limit), files.length > limit));
  });

  app.get("/:id", async (c) => {
    await faults.apply("files.retrieve");
    return c.json(mustGet(c.req.param("id")));
  });

  app.get("/:id/content", async (c) => {
    const fault = await faults.apply("files.content");
    const file = mustGet(c.req.param("id"));
    const stream = Readable.toWeb(createReadStream(state.filePath(file.id))) as unknown as ReadableStream;
    const body =
      fault?.stallAfterBytes === undefined ? stream : faults.stalled(stream, fault.stallAfterBytes);
    return new Response(body, {
      headers: { "content-type": "application/octet-stream", "content-length": String(file.bytes) },
    });
  });

  app.delete("/:id", async (c) => {
    await faults.apply("files.delete");
    const file = mustGet(c.req.param("id"));
    state.files.delete(file.id);
    await rm(state.filePath(file.id), { force: true });
    await state.save();
    return c.json({ id: file.id, object: "file", deleted: true });
  });

  return app;
}
