import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "@batch-gpt/contracts";

export interface BatchLine {
  customId: string;
  endpoint: Endpoint;
  /** The client's body, verbatim JSON text: spliced in, never re-serialised. */
  body: string;
}

/**
 * Writes a batch input file to a temporary directory, one line at a time, so memory is bounded by
 * a line rather than by the batch. Returns the path and a cleanup.
 */
export async function writeBatchFile(
  name: string,
  lines: AsyncIterable<BatchLine> | Iterable<BatchLine>,
): Promise<{ path: string; bytes: number; count: number; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "batch-gpt-"));
  const path = join(dir, `${name}.jsonl`);
  const out = createWriteStream(path);
  let bytes = 0;
  let count = 0;
  for await (const line of lines) {
    // A raw newline in valid JSON can only be whitespace between tokens, so folding it keeps the body
    // identical in meaning while keeping the line one line.
    const text = lineText(line.customId, line.endpoint, line.body.replace(/[\r\n]+/g, " "));
    bytes += Buffer.byteLength(text);
    count++;
    if (!out.write(text)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return { path, bytes, count, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** One line of the file: the JSONL envelope around the body. */
const lineText = (customId: string, endpoint: string, body: string) =>
  `{"custom_id":${JSON.stringify(customId)},"method":"POST","url":${JSON.stringify(endpoint)},"body":${body}}\n`;

/** Bytes a line adds to the file: the JSONL envelope (measured from the same template) plus the body. */
export const lineBytes = (customId: string, endpoint: string, body: string) =>
  Buffer.byteLength(lineText(customId, endpoint, "")) + Buffer.byteLength(body);
