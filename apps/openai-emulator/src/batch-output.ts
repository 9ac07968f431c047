/**
 * Writing a batch's output and error files: answers the first `finished` request lines (file order),
 * gives the rest a `batch_expired` / `batch_cancelled` error line, shuffles each file's lines (OpenAI
 * does not keep input order) and records both as `batch_output` files.
 */
import { randomInt } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { answer } from "./answers.ts";
import { readRequests } from "./batch-input.ts";
import { newId, nowSeconds } from "./ids.ts";
import type { EmulatorState } from "./state.ts";
import type { BatchRecord, BatchUsage, FileRecord } from "./types.ts";

export type UnfinishedReason = "batch_expired" | "batch_cancelled";

const UNFINISHED_MESSAGES: Record<UnfinishedReason, string> = {
  batch_expired: "This request could not be executed before the completion window expired.",
  batch_cancelled: "This request was not executed because the batch was cancelled.",
};

export interface OutputResult {
  outputFileId: string | null;
  errorFileId: string | null;
  completed: number;
  failed: number;
  usage: BatchUsage;
}

export function emptyUsage(): BatchUsage {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

export async function writeOutputs(
  state: EmulatorState,
  record: BatchRecord,
  finished: number,
  unfinished: UnfinishedReason,
  nowMs: number,
): Promise<OutputResult> {
  const { batch } = record;
  const ok: string[] = [];
  const bad: string[] = [];
  const usage = emptyUsage();
  for await (const req of readRequests(state.batchInputPath(batch.id))) {
    const id = newId.batchRequest();
    if (req.index >= finished) {
      bad.push(
        JSON.stringify({
          id,
          custom_id: req.customId,
          response: null,
          error: { code: unfinished, message: UNFINISHED_MESSAGES[unfinished] },
        }),
      );
      continue;
    }
    const a = answer(batch.endpoint, req.body, nowMs);
    const line = JSON.stringify({
      id,
      custom_id: req.customId,
      response: { status_code: a.status, request_id: newId.request().slice(4), body: a.body },
      error: null,
    });
    if (a.status < 300) {
      ok.push(line);
      if (a.usage) {
        usage.input_tokens += a.usage.input;
        usage.output_tokens += a.usage.output;
      }
    } else bad.push(line);
  }
  usage.total_tokens = usage.input_tokens + usage.output_tokens;
  const outputFileId = ok.length
    ? await saveFile(state, `batch_${batch.id}_output.jsonl`, shuffle(ok), nowMs)
    : null;
  const errorFileId = bad.length
    ? await saveFile(state, `batch_${batch.id}_error.jsonl`, shuffle(bad), nowMs)
    : null;
  return { outputFileId, errorFileId, completed: ok.length, failed: bad.length, usage };
}

async function saveFile(
  state: EmulatorState,
  filename: string,
  lines: string[],
  nowMs: number,
): Promise<string> {
  const id = newId.file();
  const content = `${lines.join("\n")}\n`;
  await writeFile(state.filePath(id), content);
  const created = nowSeconds(nowMs);
  const file: FileRecord = {
    id,
    object: "file",
    bytes: Buffer.byteLength(content),
    created_at: created,
    expires_at: created + 30 * 24 * 3600,
    filename,
    purpose: "batch_output",
    status: "processed",
    status_details: null,
  };
  state.files.set(id, file);
  return id;
}
