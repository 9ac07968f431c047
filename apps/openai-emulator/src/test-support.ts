/** Helpers for this app's tests: an in-process emulator on a free port, an SDK client, polling. */
import OpenAI, { toFile } from "openai";
import type { EmulatorOptions } from "./app.ts";
import { type StartedEmulator, startEmulator } from "./index.ts";

// biome-ignore lint/suspicious/noExplicitAny: output lines are read loosely in tests
export type Loose = Record<string, any>;

export interface Harness {
  emu: StartedEmulator;
  client: OpenAI;
  control(path: string, body?: unknown, method?: string): Promise<Response>;
  upload(lines: unknown[], filename?: string): Promise<OpenAI.Files.FileObject>;
  waitTerminal(id: string): Promise<OpenAI.Batches.Batch>;
  lines(fileId: string | null | undefined): Promise<Loose[]>;
}

export async function harness(opts: EmulatorOptions = {}): Promise<Harness> {
  const emu = await startEmulator({ batchDurationMs: 300, ...opts });
  const client = new OpenAI({ apiKey: opts.apiKeys?.[0] ?? "sk-test", baseURL: emu.url, maxRetries: 0 });
  return {
    emu,
    client,
    control: (path, body, method = body === undefined ? "GET" : "POST") =>
      fetch(`${emu.origin}/_emulator${path}`, {
        method,
        headers: { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    upload: async (lines, filename = "input.jsonl") => {
      const text = lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n");
      return client.files.create({ file: await toFile(Buffer.from(text), filename), purpose: "batch" });
    },
    waitTerminal: async (id) => {
      for (let i = 0; i < 500; i++) {
        const b = await client.batches.retrieve(id);
        if (["completed", "failed", "expired", "cancelled"].includes(b.status)) return b;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`batch ${id} did not finish`);
    },
    lines: async (fileId) => {
      if (!fileId) return [];
      const text = await (await client.files.content(fileId)).text();
      return text
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Loose);
    },
  };
}

/** A chat batch line asking `text`. */
export function chatLine(customId: string, text: string, model = "gpt-4o-mini") {
  return {
    custom_id: customId,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model, messages: [{ role: "user", content: text }] },
  };
}
