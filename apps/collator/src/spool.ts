import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import {
  type BatchFile,
  type BatchLine,
  batchLineText,
  ownFolder,
  sameLines,
  writeLinesFile,
} from "./jsonl.ts";

/**
 * A gathering group's batch file, written as its jobs arrive: each job's line (the same text
 * `writeBatchFile` writes) is appended once, so the collator can let go of a body once its line is here
 * and its request record is in the store, rather than holding 50,000 bodies until the flush (about
 * 50 MB for a batch of 1 KB bodies). At the flush the file is uploaded as it is when the batch record
 * lists exactly its lines in its order, or copied keeping only the record's lines; the store is never
 * read for a body the spool holds. It lives in a folder of the process's own (`ownFolder`), so a
 * collator killed before removing it leaves nothing `removeOrphanBatchFiles` does not clean.
 */
export class Spool {
  readonly path: string;
  readonly #folder: string;
  readonly #out: WriteStream;
  /** Each line's id (`lineId`: request and attempt) in the file's order, and its size in bytes. */
  readonly #lines: string[] = [];
  readonly #sizes: number[] = [];
  #bytes = 0;
  /** Settles once every line appended so far is written (writes complete in order). */
  #written: Promise<void> = Promise.resolve();
  #failed: Error | null = null;
  /** Settles when the stream closes, however it ends: a stream destroyed may not call back its writes. */
  readonly #gone: Promise<void>;
  #ended: Promise<void> | null = null;

  /** Opens an empty spool in `dir` (default: the system's temp folder); throws when it cannot. */
  constructor(name: string, dir?: string) {
    this.#folder = ownFolder(dir);
    this.path = join(this.#folder, `${name}.jsonl`);
    this.#out = createWriteStream(this.path);
    this.#out.on("error", (err) => {
      this.#failed ??= err;
    });
    this.#gone = new Promise((resolve) => this.#out.once("close", resolve));
  }

  /** False once a write failed: its lines cannot be trusted, and nothing more is appended. */
  get healthy(): boolean {
    return this.#failed === null;
  }

  /** The ids of the lines appended, in order. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Appends `line` as the line of `id`; false when the spool has failed or is closed. */
  append(id: string, line: BatchLine): boolean {
    if (this.#failed || this.#ended) return false;
    const bytes = Buffer.from(batchLineText(line));
    this.#lines.push(id);
    this.#sizes.push(bytes.length);
    this.#bytes += bytes.length;
    this.#written = new Promise<void>((resolve) => {
      this.#out.write(bytes, (err) => {
        if (err) this.#failed ??= err;
        resolve();
      });
    });
    return true;
  }

  /** Whether every line appended so far is on disk: waits for their writes. */
  async written(): Promise<boolean> {
    await Promise.race([this.#written, this.#gone]);
    return this.healthy;
  }

  /** Ends the file (nothing more is appended); throws if any write failed. */
  async close(): Promise<void> {
    this.#ended ??= (async () => {
      if (!(await this.written())) return;
      this.#out.end();
      await finished(this.#out).catch((err: Error) => {
        this.#failed ??= err;
      });
    })();
    await this.#ended;
    if (this.#failed) throw this.#failed;
  }

  /**
   * The batch file of `lines` (ids, in the record's order): the spool itself when they are its lines
   * (its cleanup does nothing: the spool is removed with its group), else a new file of the spool's
   * bytes for those lines. Throws when the spool cannot give them (a write failed, a line missing or
   * out of order).
   */
  async fileOf(name: string, lines: readonly string[], dir?: string): Promise<BatchFile> {
    await this.close();
    if (sameLines(this.#lines, lines)) {
      return { path: this.path, bytes: this.#bytes, count: lines.length, cleanup: async () => {} };
    }
    return writeLinesFile(name, this.#ranges(this.#keptRanges(lines)), dir);
  }

  /** Byte ranges [start, end) of the spool holding `lines`, adjacent lines merged. */
  #keptRanges(lines: readonly string[]): [number, number][] {
    const ranges: [number, number][] = [];
    let at = 0;
    let next = 0;
    for (let i = 0; i < this.#lines.length && next < lines.length; i++) {
      const size = this.#sizes[i]!;
      if (this.#lines[i] === lines[next]) {
        const last = ranges.at(-1);
        if (last && last[1] === at) last[1] = at + size;
        else ranges.push([at, at + size]);
        next++;
      }
      at += size;
    }
    if (next < lines.length) {
      throw new Error(`line ${lines[next]} is not in the spool, or not in the record's order`);
    }
    return ranges;
  }

  /** The spool's bytes in `ranges`, read in one pass. */
  async *#ranges(ranges: [number, number][]): AsyncIterable<Buffer> {
    const last = ranges.at(-1);
    if (!last) return;
    let r = 0;
    let pos = 0;
    for await (const chunk of createReadStream(this.path, { end: last[1] - 1 }) as AsyncIterable<Buffer>) {
      const end = pos + chunk.length;
      while (r < ranges.length && ranges[r]![0] < end) {
        const [from, to] = ranges[r]!;
        const slice = chunk.subarray(Math.max(from, pos) - pos, Math.min(to, end) - pos);
        if (slice.length > 0) yield slice;
        if (to > end) break;
        r++;
      }
      pos = end;
    }
    if (r < ranges.length) throw new Error("the spool is shorter than its lines");
  }

  /** Removes the spool's file and folder (after its close, if one is under way). */
  async remove(): Promise<void> {
    this.#failed ??= new Error("the spool was removed");
    if (this.#ended) await this.#ended;
    else {
      this.#ended = Promise.resolve();
      this.#out.destroy();
    }
    await rm(this.#folder, { recursive: true, force: true });
  }
}
