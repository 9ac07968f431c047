import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BatchLine, lineBytes, removeOrphanBatchFiles, writeBatchFile } from "./jsonl.ts";

type Written = Awaited<ReturnType<typeof writeBatchFile>>;
const written: Written[] = [];
const write = async (name: string, lines: AsyncIterable<BatchLine> | Iterable<BatchLine>) => {
  const file = await writeBatchFile(name, lines);
  written.push(file);
  return file;
};
afterEach(async () => {
  for (const file of written.splice(0)) await file.cleanup();
});

const chat = (customId: string, content: string): BatchLine => ({
  customId,
  endpoint: "/v1/chat/completions",
  body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
});

const readLines = async (path: string) => {
  const text = await readFile(path, "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text.slice(0, -1).split("\n");
};

describe("writeBatchFile", () => {
  it("writes one batch request line per input, in order, named after the batch", async () => {
    const lines = [chat("req_a", "first"), chat("req_b", "second"), chat("req_c", "third")];
    const file = await write("batch_1", lines);
    expect(basename(file.path)).toBe("batch_1.jsonl");
    const parsed = (await readLines(file.path)).map((l) => JSON.parse(l));
    expect(parsed).toEqual(
      lines.map((l) => ({
        custom_id: l.customId,
        method: "POST",
        url: l.endpoint,
        body: JSON.parse(l.body),
      })),
    );
    expect(file.count).toBe(3);
  });

  it("reports the file's exact size in bytes, multi-byte characters included", async () => {
    const file = await write("sizes", [chat("req_a", "héllo wörld ✓ 日本"), chat("req_b", "plain")]);
    expect(file.bytes).toBe((await stat(file.path)).size);
    expect(file.bytes).toBe(Buffer.byteLength(await readFile(file.path, "utf8")));
  });

  it("splices each body in verbatim rather than re-serialising it", async () => {
    const body =
      '{"model":"m","temperature":1.0,"messages":[{"role":"user","content":"x"}],"z":{"b":1,"a":2}}';
    const file = await write("verbatim", [{ customId: "req_v", endpoint: "/v1/chat/completions", body }]);
    const [line] = await readLines(file.path);
    expect(line).toBe(`{"custom_id":"req_v","method":"POST","url":"/v1/chat/completions","body":${body}}`);
  });

  it("folds raw newlines between tokens so a pretty-printed body stays one line with the same meaning", async () => {
    const value = { model: "m", input: ["a\nb", "c\r\nd"], nested: { deep: [1, 2] } };
    const pretty = JSON.stringify(value, null, 2).replace(/\n/g, "\r\n");
    const file = await write("pretty", [
      { customId: "req_p", endpoint: "/v1/embeddings", body: pretty },
      chat("req_q", "after"),
    ]);
    const lines = await readLines(file.path);
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!).body).toEqual(value);
    expect(file.count).toBe(2);
    expect(file.bytes).toBe((await stat(file.path)).size);
  });

  it("escapes the custom id as a JSON string", async () => {
    const customId = 'req_"quoted"\\slash';
    const file = await write("escape", [{ ...chat(customId, "x") }]);
    const [line] = await readLines(file.path);
    expect(JSON.parse(line!).custom_id).toBe(customId);
  });

  it("reads lines from an async iterable", async () => {
    async function* lines() {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        yield chat(`req_${i}`, `line ${i}`);
      }
    }
    const file = await write("async", lines());
    expect(file.count).toBe(5);
    const ids = (await readLines(file.path)).map((l) => JSON.parse(l).custom_id);
    expect(ids).toEqual(["req_0", "req_1", "req_2", "req_3", "req_4"]);
  });

  it("writes more than the stream buffers at once (waiting for drain) without losing a line", async () => {
    const content = "y".repeat(2000);
    const count = 300; // about 600 KB, well past the stream's 64 KB high-water mark
    const file = await write(
      "large",
      Array.from({ length: count }, (_, i) => chat(`req_${i}`, content)),
    );
    expect(file.count).toBe(count);
    expect(file.bytes).toBe((await stat(file.path)).size);
    const lines = await readLines(file.path);
    expect(lines).toHaveLength(count);
    expect(JSON.parse(lines.at(-1)!).custom_id).toBe(`req_${count - 1}`);
  });

  it("writes an empty file for no lines", async () => {
    const file = await write("empty", []);
    expect(file.count).toBe(0);
    expect(file.bytes).toBe(0);
    expect(await readFile(file.path, "utf8")).toBe("");
  });

  it("gives each file a directory of its own, which cleanup removes", async () => {
    const a = await writeBatchFile("same", [chat("req_a", "x")]);
    const b = await writeBatchFile("same", [chat("req_b", "y")]);
    expect(dirname(a.path)).not.toBe(dirname(b.path));
    await a.cleanup();
    expect(existsSync(a.path)).toBe(false);
    expect(existsSync(dirname(a.path))).toBe(false);
    // The other file is untouched.
    expect(existsSync(b.path)).toBe(true);
    await b.cleanup();
    expect(existsSync(dirname(b.path))).toBe(false);
    // Cleaning up twice is harmless.
    await expect(a.cleanup()).resolves.toBeUndefined();
  });
});

describe("lineBytes", () => {
  it("grows with the body's bytes, not its characters", () => {
    const ascii = lineBytes("req_a", "/v1/chat/completions", '{"c":"ab"}');
    const accented = lineBytes("req_a", "/v1/chat/completions", '{"c":"éé"}');
    expect(accented - ascii).toBe(2);
  });

  it("is what each line adds to the written file", async () => {
    const lines = [
      chat("req_000000000001", "hello"),
      chat("req_000000000002", "héllo ✓"),
      { customId: "req_e", endpoint: "/v1/embeddings" as const, body: '{"model":"m","input":["a","b"]}' },
    ];
    const file = await write("envelope", lines);
    const estimated = lines.reduce((sum, l) => sum + lineBytes(l.customId, l.endpoint, l.body), 0);
    expect(estimated).toBe(file.bytes);
  });
});

describe("batch files left behind", () => {
  it("a write that fails removes what it wrote", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jsonl-fail-"));
    try {
      async function* failing(): AsyncIterable<BatchLine> {
        yield chat("a", "first");
        throw new Error("request b has no stored body");
      }
      await expect(writeBatchFile("rec", failing(), dir)).rejects.toThrow(/no stored body/);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("removes the folders of processes no longer running, and keeps those of running ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jsonl-orphans-"));
    try {
      // This process has just started (it calls this at start): a folder with its id is a previous one's.
      const previous = await writeBatchFile("previous", [chat("a", "x")], dir);
      mkdirSync(join(dir, `batch-gpt-${process.ppid}-running`));
      // No process runs with the largest pid the kernel hands out plus one.
      mkdirSync(join(dir, "batch-gpt-4194305-dead"));
      mkdirSync(join(dir, "other-folder"));
      expect((await removeOrphanBatchFiles(dir)).sort()).toEqual(
        ["batch-gpt-4194305-dead", basename(dirname(previous.path))].sort(),
      );
      expect(readdirSync(dir).sort()).toEqual([`batch-gpt-${process.ppid}-running`, "other-folder"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
