import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { eventually, ROOT, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The official Python `openai` package against the whole stack (installed into .tools/venv by
 * `scripts/setup.sh test`). Each check is a script in test/python; these tests assert on what it saw.
 */

const PYTHON = resolve(ROOT, ".tools/venv/bin/python");
const CHECKS = resolve(ROOT, "test/python/sdk_checks.py");
const CLIENT = resolve(ROOT, "examples/python/client.py");

if (!existsSync(PYTHON)) {
  throw new Error(`${PYTHON} is missing: run 'bash scripts/setup.sh test' to install the Python SDK`);
}

const tag = () => randomBytes(4).toString("hex");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function python(args: string[], baseUrl: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(PYTHON, args, {
      env: { ...process.env, OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: "sk-python", PYTHONUNBUFFERED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", fail);
    child.once("close", (code) => done({ code, stdout, stderr }));
  });
}

async function check<T = Record<string, unknown>>(stack: Stack, name: string, ...args: string[]): Promise<T> {
  const run = await python([CHECKS, name, ...args], `${stack.gateways[0]!.url}/v1`);
  if (run.code !== 0) throw new Error(`python check ${name} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

interface ErrorSeen {
  class: string;
  status: number;
  code: string | null;
  param: string | null;
  message: string;
  request_id: string | null;
  should_retry: string | null;
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { MAX_BODY_BYTES: "65536" } });
});
afterAll(() => stack?.close());

describe("Python SDK: requests", () => {
  it("chat: plain, and streamed with the same content and usage", async () => {
    const t = tag();
    const seen = await check<{
      content: string;
      finish_reason: string;
      usage: Record<string, unknown>;
      request_id: string;
      cache: string;
      streamed: { content: string; roles: string[]; finishes: string[]; usage: Record<string, unknown> };
    }>(stack, "chat", t);
    expect(seen.content).toBe(`echo: python chat ${t}`);
    expect(seen.finish_reason).toBe("stop");
    expect(seen.request_id).toBeTruthy();
    expect(seen.cache).toBe("miss");
    expect(seen.streamed.content).toBe(seen.content);
    expect(seen.streamed.roles).toEqual(["assistant"]);
    expect(seen.streamed.finishes).toEqual(["stop"]);
    expect(seen.streamed.usage).toEqual(seen.usage);
  });

  it("embeddings as floats, SDK-decoded base64 and raw base64, all the same vectors", async () => {
    const seen = await check<{
      float: number[][];
      default: number[][];
      base64_decoded: number[][];
      base64_is_text: boolean;
      prompt_tokens: number;
    }>(stack, "embeddings", tag());
    expect(seen.float).toHaveLength(2);
    expect(seen.float[0]).toHaveLength(8);
    expect(seen.base64_is_text).toBe(true);
    for (const other of [seen.default, seen.base64_decoded]) {
      other.forEach((vector, i) => {
        vector.forEach((v, j) => {
          expect(v).toBeCloseTo(seen.float[i]![j]!, 6);
        });
      });
    }
    expect(seen.prompt_tokens).toBeGreaterThan(0);
  });

  it("completions, plain and streamed", async () => {
    const t = tag();
    const seen = await check<{ object: string; text: string; streamed: string }>(stack, "completions", t);
    expect(seen.object).toBe("text_completion");
    expect(seen.text).toBe(`echo: python complete ${t}`);
    expect(seen.streamed).toBe(seen.text);
  });

  it("responses, plain, streamed and through the stream helper", async () => {
    const t = tag();
    const seen = await check<{
      output_text: string;
      id: string;
      types: string[];
      streamed: string;
      completed_id: string;
      helper_output_text: string;
    }>(stack, "responses", t);
    expect(seen.output_text).toBe(`echo: python respond ${t}`);
    expect(seen.types[0]).toBe("response.created");
    expect(seen.types.at(-1)).toBe("response.completed");
    expect(seen.streamed).toBe(seen.output_text);
    expect(seen.completed_id).toBe(seen.id);
    expect(seen.helper_output_text).toBe(seen.output_text);
  });

  it("async mode through extra_headers and default_headers, answers fetched with retrieve", async () => {
    const t = tag();
    const seen = await check<{
      ids: string[];
      status: string;
      answers: string[];
      response_text: string;
      embedding_length: number;
      stream_refused: ErrorSeen;
    }>(stack, "async", t);
    expect(seen.ids.every((id) => id.startsWith("chatcmpl-"))).toBe(true);
    expect(seen.status).toBe("queued");
    expect(seen.answers).toEqual([`echo: python async ${t}`, `echo: python async ${t} again`]);
    expect(seen.response_text).toBe(`echo: python async ${t} resp`);
    expect(seen.embedding_length).toBe(8);
    expect(seen.stream_refused).toMatchObject({ class: "BadRequestError", status: 400, param: "stream" });
  });
});

describe("Python SDK: errors", () => {
  it("maps every status to the SDK's error class, with x-request-id", async () => {
    const seen = await check<Record<string, ErrorSeen>>(stack, "errors", tag());
    expect(seen.bad_request).toMatchObject({ class: "BadRequestError", status: 400, param: "messages" });
    expect(seen.line_400).toMatchObject({ class: "BadRequestError", status: 400, should_retry: "false" });
    expect(seen.not_found).toMatchObject({ class: "NotFoundError", status: 404 });
    expect(seen.no_route).toMatchObject({ class: "NotFoundError", status: 404 });
    expect(seen.batch_not_found).toMatchObject({ class: "NotFoundError", status: 404 });
    expect(seen.too_large).toMatchObject({ class: "APIStatusError", status: 413, code: "request_too_large" });
    expect(seen.rate_limited).toMatchObject({
      class: "RateLimitError",
      status: 429,
      code: "rate_limit_exceeded",
      should_retry: "false",
    });
    expect(seen.server_error).toMatchObject({ class: "InternalServerError", status: 500 });
    expect(seen.server_error_streamed).toMatchObject({ class: "InternalServerError", status: 500 });
    expect(seen.limit_out_of_range).toMatchObject({ class: "BadRequestError", param: "limit" });
    for (const error of Object.values(seen)) expect(error.request_id).toBeTruthy();
  });
});

describe("Python SDK and the example client: batch management", () => {
  let slow: Stack;
  beforeAll(async () => {
    // Batches that run long enough to be cancelled while a caller waits.
    slow = await startStack({ batchDurationMs: 3000 });
  });
  afterAll(() => slow?.close());

  const example = (...args: string[]) =>
    python([CLIENT, ...args, "--base-url", `${slow.gateways[0]!.url}/v1`], "http://unused.invalid/v1");

  it("lists with auto-pagination, filters, retrieves, and refuses to cancel a finished batch", async () => {
    const t = tag();
    const seen = await check<{
      answers: string[];
      listed: string[];
      created_at: number[];
      first: { id: string; object: string; status: string; request_counts: { total: number } };
      completed_statuses: string[];
      cancel_finished: ErrorSeen;
    }>(slow, "batches", t);
    expect(seen.answers).toEqual(
      ["gpt-4o-mini", "gpt-4.1-nano", "gpt-4.1-mini"].map((m) => `echo: python batch ${m} ${t}`),
    );
    const created = (await slow.emulatorStats()).batches.map((b) => b.id);
    expect([...seen.listed].sort()).toEqual([...created].sort());
    expect(new Set(seen.listed).size).toBe(seen.listed.length);
    expect(seen.created_at).toEqual([...seen.created_at].sort((a, b) => b - a));
    expect(seen.first).toMatchObject({ id: seen.listed[0], object: "batch", status: "completed" });
    expect(seen.first.request_counts.total).toBe(1);
    expect(seen.completed_statuses.length).toBe(created.length);
    expect(seen.cancel_finished).toMatchObject({
      class: "ConflictError",
      status: 409,
      should_retry: "false",
    });
    expect(seen.cancel_finished.message).toContain(`Cannot cancel a batch with status 'completed'.`);
  });

  it("example client: chat, batch status (one and all, filtered), cancel with its caller still answered", async () => {
    const t = tag();
    const chat = await example("--api", "chat_completions", "--content", `example ${t}`);
    expect(chat.code).toBe(0);
    expect(chat.stdout).toContain(`Content: echo: example ${t}`);
    expect(chat.stdout).toMatch(/ID: chatcmpl-/);
    expect(chat.stdout).toContain("Finish reason: stop");
    expect(chat.stdout).toMatch(/Total tokens: \d+/);

    // A caller held on a batch that gets cancelled: its line is resubmitted and it is still answered.
    const prompt = `held ${t}`;
    const held = check<{ content: string }>(slow, "hold", prompt);
    const record = await eventually(async () => {
      const doc = await slow.store.mongo.collections.requests.findOne({ body: { $regex: prompt } });
      const request = doc ? await slow.store.requests.get(doc._id) : null;
      const batch = request?.batchId ? await slow.store.batches.get(request.batchId) : null;
      return batch?.providerBatchId ? batch : undefined;
    });
    const batchId = record.providerBatchId!;
    const cancel = await example("--api", "cancel_batch", "--batch_id", batchId);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toMatch(
      new RegExp(`Cancel requested for ${batchId}: status (cancelling|cancelled)`),
    );
    expect((await held).content).toBe(`echo: ${prompt}`);

    const one = await example("--api", "status_single_batch", "--batch_id", batchId);
    expect(one.stdout).toContain(`Batch ID: ${batchId}`);
    expect(one.stdout).toContain("Status: cancelled");
    expect(one.stdout).toMatch(/Created: \d{4}-\d\d-\d\d/);
    expect(one.stdout).toMatch(/Expires: \d{4}-\d\d-\d\d/);
    expect(one.stdout).toMatch(/Requests: total \d+, completed \d+, failed \d+/);

    const again = await example("--api", "cancel_batch", "--batch_id", batchId);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("Error 409 (ConflictError)");
    expect(again.stderr).toContain("Cannot cancel a batch with status 'cancelled'.");

    const all = await example("--api", "status_all_batches");
    const total = (await slow.emulatorStats()).batches.length;
    expect(all.stdout).toContain(`${total} batch(es)`);
    const notCompleted = await example("--api", "status_all_batches", "--status_filter", "not_completed");
    expect(notCompleted.stdout).toContain(`Batch ID: ${batchId}`);
    expect(notCompleted.stdout).not.toContain("Status: completed");
    const completed = await example("--api", "status_all_batches", "--status_filter", "completed");
    expect(completed.stdout).not.toContain(`Batch ID: ${batchId}`);
    expect(completed.stdout).toContain("Status: completed");

    const missing = await example("--api", "status_single_batch", "--batch_id", "batch_nope");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Error 404 (NotFoundError)");
  });
});
