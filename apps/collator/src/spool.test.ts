import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BatchFile, type BatchLine, removeOrphanBatchFiles, writeBatchFile } from "./jsonl.ts";
import { Spool } from "./spool.ts";

const spools: Spool[] = [];
const files: BatchFile[] = [];
afterEach(async () => {
  for (const spool of spools.splice(0)) await spool.remove();
  for (const file of files.splice(0)) await file.cleanup();
});

const chat = (customId: string, content: string): BatchLine => ({
  customId,
  endpoint: "/v1/chat/completions",
  body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
});

/** Lines of every kind `writeBatchFile` treats specially: multi-byte text, a pretty-printed body. */
const sample = (count: number, size = 40): BatchLine[] =>
  Array.from({ length: count }, (_, i) =>
    i % 7 === 3
      ? {
          customId: `req_${i}`,
          endpoint: "/v1/chat/completions",
          body: JSON.stringify({ model: "m", messages: [{ role: "user", content: `é ✓ ${i}` }] }, null, 2),
        }
      : chat(`req_${i}`, `${i} ${"ü".repeat(i % 5)}${"x".repeat(size)}`),
  );

const idOf = (line: BatchLine) => `${line.customId}:0`;

function spoolOf(lines: BatchLine[], dir?: string): Spool {
  const spool = new Spool("spool", dir);
  spools.push(spool);
  for (const line of lines) expect(spool.append(idOf(line), line)).toBe(true);
  return spool;
}

/** What `writeBatchFile` writes for `lines`: the bytes a batch file had before spools. */
async function expected(lines: BatchLine[]): Promise<Buffer> {
  const file = await writeBatchFile("expected", lines);
  files.push(file);
  return readFile(file.path);
}

async function fileOf(spool: Spool, lines: BatchLine[]): Promise<BatchFile> {
  const file = await spool.fileOf("rec_1", lines.map(idOf));
  files.push(file);
  return file;
}

describe("Spool", () => {
  it("is, for the same lines, the file writeBatchFile writes, byte for byte", async () => {
    const lines = sample(50);
    const spool = spoolOf(lines);
    expect(await spool.written()).toBe(true);
    const file = await fileOf(spool, lines);
    expect(file.path).toBe(spool.path);
    expect(file.count).toBe(50);
    const bytes = await readFile(file.path);
    expect(bytes.equals(await expected(lines))).toBe(true);
    expect(file.bytes).toBe(bytes.length);
    // Its cleanup leaves the spool to its group.
    await file.cleanup();
    expect(existsSync(spool.path)).toBe(true);
  });

  it("copies only the lines asked for, in their order, across the reads' chunks", async () => {
    // About 1.2 MB: many 64 KB reads, lines cut across their edges.
    const lines = sample(600, 2000);
    const spool = spoolOf(lines);
    const kept = lines.filter((_, i) => i % 3 !== 0 && i !== 1 && i !== 599);
    const file = await fileOf(spool, kept);
    expect(file.path).not.toBe(spool.path);
    const bytes = await readFile(file.path);
    expect(bytes.equals(await expected(kept))).toBe(true);
    expect(file.count).toBe(kept.length);
    expect(file.bytes).toBe(bytes.length);
    // A line alone, the last one, and none.
    for (const some of [[lines[0]!], [lines[599]!], []]) {
      expect((await readFile((await fileOf(spool, some)).path)).equals(await expected(some))).toBe(true);
    }
  });

  it("refuses lines it does not hold, or in another order", async () => {
    const lines = sample(5);
    const spool = spoolOf(lines);
    await expect(spool.fileOf("rec_1", [idOf(lines[0]!), "req_other:0"])).rejects.toThrow(/not in the spool/);
    await expect(spool.fileOf("rec_1", [idOf(lines[2]!), idOf(lines[1]!)])).rejects.toThrow(/order/);
    // The same request's other attempt is another line.
    await expect(spool.fileOf("rec_1", ["req_0:1"])).rejects.toThrow(/not in the spool/);
  });

  it("has every line appended on disk once written() says so, a few at a time or many", async () => {
    const spool = spoolOf(sample(3));
    expect(await spool.written()).toBe(true);
    expect((await readFile(spool.path)).equals(await expected(sample(3)))).toBe(true);
    // More than one write's worth (64 KB) appended at once.
    const more = sample(200, 1000).map((l) => ({ ...l, customId: `more_${l.customId}` }));
    for (const line of more) spool.append(idOf(line), line);
    expect(await spool.written()).toBe(true);
    expect((await readFile(spool.path)).equals(await expected([...sample(3), ...more]))).toBe(true);
  });

  it("takes no line once closed", async () => {
    const lines = sample(3);
    const spool = spoolOf(lines.slice(0, 2));
    await fileOf(spool, lines.slice(0, 2));
    expect(spool.append(idOf(lines[2]!), lines[2]!)).toBe(false);
    expect(spool.lines).toEqual(lines.slice(0, 2).map(idOf));
  });

  it("lives in a folder of this process's own, which remove takes away and a later start would clean", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-"));
    try {
      const spool = spoolOf(sample(2), dir);
      const folder = dirname(spool.path);
      expect(basename(folder).startsWith(`batch-gpt-${process.pid}-`)).toBe(true);
      // What a collator started after this one was killed finds: a folder of a process not running
      // (or of its own pid, reused), removed at its start.
      expect(await removeOrphanBatchFiles(dir)).toEqual([basename(folder)]);
      expect(existsSync(folder)).toBe(false);
      const other = spoolOf(sample(2), dir);
      await other.remove();
      expect(existsSync(dirname(other.path))).toBe(false);
      // Removing twice is harmless.
      await expect(other.remove()).resolves.toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("cannot be opened where no folder can be made", () => {
    expect(() => new Spool("spool", join(tmpdir(), "no-such-folder", "deeper"))).toThrow();
  });
});
