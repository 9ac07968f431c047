import { once } from "node:events";
import { createWriteStream, mkdtempSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "@batch-gpt/contracts";

export interface BatchLine {
  customId: string;
  endpoint: Endpoint;
  /** The client's body, verbatim JSON text: spliced in, never re-serialised. */
  body: string;
}

/** Whether two line lists (line ids) are the same lines in the same order. */
export function sameLines(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Folder names of batch files carry their process id: leftovers of a dead process can be told apart. */
const DIR_PREFIX = "batch-gpt-";
const ownDirPrefix = () => `${DIR_PREFIX}${process.pid}-`;

/** A batch file written to disk: its path, size, lines, and how to remove it. */
export interface BatchFile {
  path: string;
  bytes: number;
  count: number;
  cleanup(): Promise<void>;
}

/**
 * Writes a batch input file to a temporary folder (in `dir`, default the system's), one line at a time,
 * so memory is bounded by a line rather than by the batch. Returns the path and a cleanup; a write
 * that fails removes what it wrote.
 */
export function writeBatchFile(
  name: string,
  lines: AsyncIterable<BatchLine> | Iterable<BatchLine>,
  dir: string = tmpdir(),
): Promise<BatchFile> {
  return writeLinesFile(name, texts(lines), dir);
}

async function* texts(lines: AsyncIterable<BatchLine> | Iterable<BatchLine>): AsyncIterable<string> {
  for await (const line of lines) yield batchLineText(line);
}

/**
 * Writes a batch file of lines already in the file's form (`batchLineText`, or bytes read back from a
 * file of them), each chunk a whole number of lines. Same folders and cleanup as `writeBatchFile`.
 */
export async function writeLinesFile(
  name: string,
  chunks: AsyncIterable<string | Buffer>,
  dir: string = tmpdir(),
): Promise<BatchFile> {
  const folder = await mkdtemp(join(dir, ownDirPrefix()));
  const cleanup = () => rm(folder, { recursive: true, force: true });
  const path = join(folder, `${name}.jsonl`);
  const out = createWriteStream(path);
  let bytes = 0;
  let count = 0;
  try {
    for await (const chunk of chunks) {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      bytes += buffer.length;
      count += countNewlines(buffer);
      if (!out.write(buffer)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
  } catch (error) {
    out.destroy();
    await cleanup();
    throw error;
  }
  return { path, bytes, count, cleanup };
}

function countNewlines(buffer: Buffer): number {
  let n = 0;
  for (let at = buffer.indexOf(0x0a); at >= 0; at = buffer.indexOf(0x0a, at + 1)) n++;
  return n;
}

/** A private folder for files of this process (cleaned by `removeOrphanBatchFiles` should it die). */
export function ownFolder(dir: string = tmpdir()): string {
  return mkdtempSync(join(dir, ownDirPrefix()));
}

/**
 * Removes the batch files that processes no longer running left in `dir` (a SIGKILL skips every
 * cleanup). A folder of this process's id is a previous process's too: this one has written none yet.
 */
export async function removeOrphanBatchFiles(dir: string = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const pid = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(entry)?.[1];
    if (pid === undefined || (Number(pid) !== process.pid && isRunning(Number(pid)))) continue;
    await rm(join(dir, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One line of a batch file, newline included. A raw newline in valid JSON can only be whitespace
 * between tokens, so folding it keeps the body identical in meaning while keeping the line one line.
 */
export const batchLineText = (line: BatchLine) =>
  lineText(line.customId, line.endpoint, line.body.replace(/[\r\n]+/g, " "));

/** The JSONL envelope around the body. */
const lineText = (customId: string, endpoint: string, body: string) =>
  `{"custom_id":${JSON.stringify(customId)},"method":"POST","url":${JSON.stringify(endpoint)},"body":${body}}\n`;

/** Bytes a line adds to the file: the JSONL envelope (measured from the same template) plus the body. */
export const lineBytes = (customId: string, endpoint: string, body: string) =>
  Buffer.byteLength(lineText(customId, endpoint, "")) + Buffer.byteLength(body);
