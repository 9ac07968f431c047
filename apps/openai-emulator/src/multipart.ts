/**
 * Streaming multipart/form-data parsing for uploads: the `file` part is written straight to disk as it
 * arrives (busboy), so a 200 MB upload costs a small, fixed amount of memory.
 */
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import busboy from "busboy";
import { invalidRequest } from "./errors.ts";

export interface UploadedPart {
  path: string;
  filename: string;
  bytes: number;
  /** True when the part was larger than the limit; its bytes beyond the limit were discarded. */
  tooLarge: boolean;
}

export interface ParsedUpload {
  fields: Record<string, string>;
  file: UploadedPart | null;
}

/**
 * Parses the request body; the `file` part goes to `tmpPath`. Other file parts are drained and ignored.
 * On failure the temp file is removed.
 */
export async function parseUpload(
  headers: Headers,
  body: WebReadableStream<Uint8Array> | null,
  tmpPath: string,
  maxFileBytes: number,
): Promise<ParsedUpload> {
  const contentType = headers.get("content-type") ?? "";
  if (!contentType.toLowerCase().startsWith("multipart/form-data") || body === null) {
    throw invalidRequest(
      `Invalid Content-Type header (${contentType || "none"}), expected multipart/form-data. (HINT: If you're using curl, you can pass -F 'purpose=batch' -F 'file=@path/to/file.jsonl')`,
    );
  }
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: { "content-type": contentType }, limits: { fields: 50, fieldSize: 64 * 1024 } });
  } catch {
    throw invalidRequest("Could not parse the multipart form: missing or invalid boundary.");
  }
  const fields: Record<string, string> = {};
  let file: UploadedPart | null = null;
  const writes: Promise<void>[] = [];
  bb.on("field", (name, value) => {
    fields[name] = value;
  });
  bb.on("file", (name, stream, info) => {
    if (name !== "file" || file !== null) {
      stream.resume();
      return;
    }
    const part: UploadedPart = { path: tmpPath, filename: info.filename ?? "", bytes: 0, tooLarge: false };
    file = part;
    const out = createWriteStream(tmpPath);
    const limiter = new Writable({
      write(chunk: Buffer, _enc, cb) {
        part.bytes += chunk.length;
        if (part.bytes > maxFileBytes) {
          part.tooLarge = true;
          cb();
          return;
        }
        if (out.write(chunk)) cb();
        else out.once("drain", () => cb());
      },
      final(cb) {
        out.end(cb);
      },
      destroy(err, cb) {
        out.destroy(); // a failed part must not leave its file descriptor open
        cb(err);
      },
    });
    const written = pipeline(stream, limiter);
    // A client gone mid-upload fails the body and this part together; the body's failure is the one
    // reported below, so this one must not surface as an unhandled rejection on its own.
    written.catch(() => {});
    writes.push(written);
  });
  try {
    await pipeline(Readable.fromWeb(body), bb);
    await Promise.all(writes);
  } catch {
    await Promise.allSettled(writes); // busboy's destroy fails the part too, so this settles at once
    await rm(tmpPath, { force: true });
    throw invalidRequest("Could not parse the multipart form.");
  }
  return { fields, file };
}
