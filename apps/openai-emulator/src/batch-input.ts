/**
 * Reading a batch input file: streams it line by line, checks every line as OpenAI's validation does and
 * notes which request lines will answer with a non-2xx status (fail markers, invalid bodies).
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { answer, type Endpoint, embeddingInputs, INVALID_LINE_MESSAGE, markerText } from "./answers.ts";
import { hasInvalidLineMarker } from "./text.ts";
import type { BatchErrorItem } from "./types.ts";

export const MAX_REQUESTS = 50_000;
export const MAX_EMBEDDING_INPUTS = 50_000;
const MAX_REPORTED_ERRORS = 1000;

export interface RequestLine {
  /** 1-based physical line number in the file. */
  line: number;
  /** 0-based index among request lines (file order). */
  index: number;
  customId: string;
  body: Record<string, unknown>;
}

/** Yields each non-blank line with its 1-based line number. */
export async function* readLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const rl = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() !== "") yield { line, text };
  }
}

/** Yields the request lines of an input file that passed `scanInput` (no checks repeated). */
export async function* readRequests(path: string): AsyncGenerator<RequestLine> {
  let index = 0;
  for await (const { line, text } of readLines(path)) {
    const parsed = JSON.parse(text) as { custom_id: string; body: Record<string, unknown> };
    yield { line, index: index++, customId: parsed.custom_id, body: parsed.body };
  }
}

export interface ScanResult {
  lines: number;
  model: string | null;
  errors: BatchErrorItem[];
  failingLines: number[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export async function scanInput(path: string, endpoint: Endpoint): Promise<ScanResult> {
  const errors: BatchErrorItem[] = [];
  const push = (e: BatchErrorItem) => {
    if (errors.length < MAX_REPORTED_ERRORS) errors.push(e);
  };
  const seen = new Set<string>();
  const failingLines: number[] = [];
  let model: string | null = null;
  let lines = 0;
  let inputs = 0;
  for await (const { line, text } of readLines(path)) {
    lines++;
    if (lines > MAX_REQUESTS) {
      push({
        code: "too_many_requests",
        message: `The batch input file contains more than the maximum of ${MAX_REQUESTS.toLocaleString("en-US")} requests.`,
        param: null,
        line: null,
      });
      break;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      push({
        code: "invalid_json_line",
        message: "This line is not parseable as valid JSON.",
        param: null,
        line,
      });
      continue;
    }
    if (!isRecord(parsed)) {
      push({ code: "invalid_request", message: "Each line must be a JSON object.", param: null, line });
      continue;
    }
    let valid = true;
    for (const param of ["custom_id", "method", "url", "body"] as const) {
      if (parsed[param] === undefined) {
        push({
          code: "missing_required_parameter",
          message: `Missing required parameter: '${param}'.`,
          param,
          line,
        });
        valid = false;
      }
    }
    if (!valid) continue;
    const { custom_id: customId, method, url, body } = parsed;
    if (typeof customId !== "string" || customId === "") {
      push({
        code: "invalid_request",
        message: "custom_id must be a non-empty string.",
        param: "custom_id",
        line,
      });
      continue;
    }
    if (seen.has(customId)) {
      push({
        code: "duplicate_custom_id",
        message:
          "The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each individual request in a batch.",
        param: "custom_id",
        line,
      });
      continue;
    }
    seen.add(customId);
    if (method !== "POST") {
      push({ code: "invalid_request", message: "Only the POST method is supported.", param: "method", line });
      continue;
    }
    if (url !== endpoint) {
      push({
        code: "invalid_url",
        message: "The URL provided for this request does not match the batch endpoint.",
        param: "url",
        line,
      });
      continue;
    }
    if (!isRecord(body)) {
      push({ code: "invalid_request", message: "Body must be a JSON object.", param: "body", line });
      continue;
    }
    if (typeof body.model !== "string" || body.model === "") {
      push({ code: "invalid_request", message: "Model parameter is required.", param: "body.model", line });
      continue;
    }
    if (model === null) model = body.model;
    else if (body.model !== model) {
      push({
        code: "mismatched_model",
        message: `The provided model '${body.model}' does not match the model '${model}' of the other requests in this batch. A batch may only use one model.`,
        param: "body.model",
        line,
      });
      continue;
    }
    if (body.stream === true) {
      push({
        code: "streaming_unsupported",
        message: "Streaming is not supported in the Batch API.",
        param: "body.stream",
        line,
      });
      continue;
    }
    if (hasInvalidLineMarker(markerText(endpoint, body))) {
      push({ code: "invalid_request", message: INVALID_LINE_MESSAGE, param: "body", line });
      continue;
    }
    if (endpoint === "/v1/embeddings") inputs += embeddingInputs(body.input).length;
    if (answer(endpoint, body).status >= 300) failingLines.push(lines - 1);
  }
  if (lines === 0) {
    push({
      code: "empty_file",
      message: "The batch input file is empty. Please ensure that the batch contains at least one request.",
      param: null,
      line: null,
    });
  }
  if (inputs > MAX_EMBEDDING_INPUTS) {
    push({
      code: "too_many_inputs",
      message: `The batch contains ${inputs.toLocaleString("en-US")} embedding inputs, more than the maximum of ${MAX_EMBEDDING_INPUTS.toLocaleString("en-US")} embedding inputs across all requests of a batch.`,
      param: "body.input",
      line: null,
    });
  }
  return { lines: Math.min(lines, MAX_REQUESTS + 1), model, errors, failingLines };
}
