/**
 * The deterministic model: one function turns a request body for an endpoint into the exact response
 * (status + body) that both the realtime route and a batch line return. Only ids and timestamps differ.
 */
import { DEFAULT_DIMENSIONS, embeddingVector, toBase64 } from "./embeddings.ts";
import { ApiError, invalidRequest, missingParameter, statusError } from "./errors.ts";
import { newId, nowSeconds } from "./ids.ts";
import {
  allMessagesText,
  failMarker,
  hasInvalidLineMarker,
  lastUserText,
  promptText,
  responsesInputText,
  tokens,
} from "./text.ts";

export const ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/embeddings",
  "/v1/completions",
  "/v1/responses",
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export function isEndpoint(v: unknown): v is Endpoint {
  return typeof v === "string" && (ENDPOINTS as readonly string[]).includes(v);
}

export interface Usage {
  input: number;
  output: number;
}

export interface Answer {
  status: number;
  body: unknown;
  /** Token usage of a successful answer (null for errors). */
  usage: Usage | null;
  headers: Record<string, string>;
}

type Body = Record<string, unknown>;

/** What the `[[invalid-line]]` marker is refused with (realtime, and as its batch line's error). */
export const INVALID_LINE_MESSAGE =
  "The request is not valid: it carries the emulator's [[invalid-line]] marker.";
export const invalidLine = () => invalidRequest(INVALID_LINE_MESSAGE, "body");

function requireModel(body: Body): string {
  if (typeof body.model !== "string" || body.model === "") {
    throw invalidRequest("you must provide a model parameter");
  }
  return body.model;
}

/** The text fail markers are looked for in and that the answer echoes. */
export function markerText(endpoint: Endpoint, body: Body): string {
  switch (endpoint) {
    case "/v1/chat/completions":
      return lastUserText(body.messages);
    case "/v1/completions":
      return promptText(body.prompt);
    case "/v1/responses":
      return responsesInputText(body.input);
    case "/v1/embeddings":
      return embeddingInputs(body.input)
        .filter((i): i is string => typeof i === "string")
        .join("\n");
  }
}

export function answer(endpoint: Endpoint, body: unknown, nowMs: number = Date.now()): Answer {
  try {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalidRequest("The request body must be a JSON object.");
    }
    const b = body as Body;
    const model = requireModel(b);
    validate(endpoint, b);
    if (hasInvalidLineMarker(markerText(endpoint, b))) throw invalidLine();
    const marker = failMarker(markerText(endpoint, b));
    if (marker !== undefined) throw statusError(marker, model);
    const created = nowSeconds(nowMs);
    switch (endpoint) {
      case "/v1/chat/completions":
        return ok(chatCompletion(b, model, created));
      case "/v1/completions":
        return ok(completion(b, model, created));
      case "/v1/responses":
        return ok(response(b, model, created));
      case "/v1/embeddings":
        return ok(embeddings(b, model));
    }
  } catch (err) {
    if (err instanceof ApiError)
      return { status: err.status, body: err.body(), usage: null, headers: err.headers };
    throw err;
  }
}

function ok(r: { body: unknown; usage: Usage }): Answer {
  return { status: 200, body: r.body, usage: r.usage, headers: {} };
}

function validate(endpoint: Endpoint, b: Body): void {
  switch (endpoint) {
    case "/v1/chat/completions":
      if (b.messages === undefined) throw missingParameter("messages");
      if (!Array.isArray(b.messages)) {
        throw invalidRequest("Invalid type for 'messages': expected an array.", "messages", "invalid_type");
      }
      if (b.messages.length === 0) {
        throw invalidRequest(
          "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
          "messages",
          "empty_array",
        );
      }
      return;
    case "/v1/completions":
      if (b.prompt === undefined) throw missingParameter("prompt");
      return;
    case "/v1/responses":
      if (b.input === undefined) throw missingParameter("input");
      return;
    case "/v1/embeddings": {
      if (b.input === undefined) throw missingParameter("input");
      const inputs = embeddingInputs(b.input);
      if (inputs.length === 0 || inputs.some((i) => i === "" || (Array.isArray(i) && i.length === 0))) {
        throw invalidRequest("'$.input' is invalid. Please check the API reference.", "input");
      }
      if (b.dimensions !== undefined) {
        if (typeof b.dimensions !== "number" || !Number.isInteger(b.dimensions)) {
          throw invalidRequest(
            "Invalid type for 'dimensions': expected an integer.",
            "dimensions",
            "invalid_type",
          );
        }
        if (b.dimensions < 1) {
          throw invalidRequest(
            `Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got ${b.dimensions} instead.`,
            "dimensions",
            "integer_below_min_value",
          );
        }
      }
      if (
        b.encoding_format !== undefined &&
        b.encoding_format !== "float" &&
        b.encoding_format !== "base64"
      ) {
        throw invalidRequest(
          `Invalid value: '${String(b.encoding_format)}'. Supported values are: 'float' and 'base64'.`,
          "encoding_format",
          "invalid_value",
        );
      }
      return;
    }
  }
}

function chatCompletion(b: Body, model: string, created: number) {
  const content = `echo: ${lastUserText(b.messages)}`;
  const n = typeof b.n === "number" && Number.isInteger(b.n) && b.n > 0 ? b.n : 1;
  const input = tokens(allMessagesText(b.messages));
  const output = tokens(content) * n;
  const choices = Array.from({ length: n }, (_, index) => ({
    index,
    message: { role: "assistant", content, refusal: null, annotations: [] },
    logprobs: null,
    finish_reason: "stop",
  }));
  return {
    body: {
      id: newId.chat(),
      object: "chat.completion",
      created,
      model,
      choices,
      usage: {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: input + output,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: "default",
      system_fingerprint: null,
    },
    usage: { input, output },
  };
}

function completion(b: Body, model: string, created: number) {
  const prompts =
    Array.isArray(b.prompt) && b.prompt.every((p) => typeof p === "string") ? b.prompt : [b.prompt];
  const texts = prompts.map((p) => `echo: ${promptText(p)}`);
  const input = tokens(promptText(b.prompt));
  const output = texts.reduce((s, t) => s + tokens(t), 0);
  return {
    body: {
      id: newId.completion(),
      object: "text_completion",
      created,
      model,
      choices: texts.map((text, index) => ({ text, index, logprobs: null, finish_reason: "stop" })),
      usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
      system_fingerprint: null,
    },
    usage: { input, output },
  };
}

function response(b: Body, model: string, created: number) {
  const text = `echo: ${responsesInputText(b.input)}`;
  const instructions = typeof b.instructions === "string" ? b.instructions : null;
  const input = tokens((instructions ?? "") + allMessagesText(b.input));
  const output = tokens(text);
  return {
    body: {
      id: newId.response(),
      object: "response",
      created_at: created,
      status: "completed",
      completed_at: created,
      error: null,
      incomplete_details: null,
      instructions,
      max_output_tokens: b.max_output_tokens ?? null,
      model,
      output: [
        {
          type: "message",
          id: newId.message(),
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text, annotations: [], logprobs: [] }],
        },
      ],
      parallel_tool_calls: b.parallel_tool_calls ?? true,
      previous_response_id: b.previous_response_id ?? null,
      reasoning: { effort: null, summary: null },
      service_tier: "default",
      store: b.store ?? true,
      temperature: b.temperature ?? 1,
      text: b.text ?? { format: { type: "text" } },
      tool_choice: b.tool_choice ?? "auto",
      tools: b.tools ?? [],
      top_p: b.top_p ?? 1,
      truncation: b.truncation ?? "disabled",
      usage: {
        input_tokens: input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: input + output,
      },
      user: b.user ?? null,
      metadata: b.metadata ?? {},
    },
    usage: { input, output },
  };
}

/** Embedding inputs as a list: a string, a list of strings, a token array, or a list of token arrays. */
export function embeddingInputs(input: unknown): Array<string | number[]> {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input)) return [];
  if (input.length > 0 && input.every((i) => typeof i === "number")) return [input as number[]];
  return input.filter((i): i is string | number[] => typeof i === "string" || Array.isArray(i));
}

function embeddings(b: Body, model: string) {
  const inputs = embeddingInputs(b.input);
  const dims = typeof b.dimensions === "number" ? b.dimensions : DEFAULT_DIMENSIONS;
  const base64 = b.encoding_format === "base64";
  let chars = 0;
  let tokenCount = 0;
  const data = inputs.map((input, index) => {
    if (typeof input === "string") chars += input.length;
    else tokenCount += input.length;
    const vector = embeddingVector(input, dims);
    return { object: "embedding", index, embedding: base64 ? toBase64(vector) : vector };
  });
  const input = Math.ceil(chars / 4) + tokenCount;
  return {
    body: { object: "list", data, model, usage: { prompt_tokens: input, total_tokens: input } },
    usage: { input, output: 0 },
  };
}

/** Chat SSE: the chunks of a finished chat.completion, as `data: …` payloads (without `[DONE]`). */
export function chatChunks(completion: Record<string, unknown>, includeUsage: boolean): unknown[] {
  const choices = completion.choices as Array<{ index: number; message: { content: string } }>;
  const base = {
    id: completion.id,
    object: "chat.completion.chunk",
    created: completion.created,
    model: completion.model,
    service_tier: completion.service_tier,
    system_fingerprint: null,
  };
  const withUsage = (chunk: Record<string, unknown>) => (includeUsage ? { ...chunk, usage: null } : chunk);
  const out: unknown[] = [];
  for (const choice of choices) {
    out.push(
      withUsage({
        ...base,
        choices: [
          {
            index: choice.index,
            delta: { role: "assistant", content: "", refusal: null },
            logprobs: null,
            finish_reason: null,
          },
        ],
      }),
    );
    for (const piece of choice.message.content.match(/\S+\s*|\s+/g) ?? []) {
      out.push(
        withUsage({
          ...base,
          choices: [{ index: choice.index, delta: { content: piece }, logprobs: null, finish_reason: null }],
        }),
      );
    }
    out.push(
      withUsage({
        ...base,
        choices: [{ index: choice.index, delta: {}, logprobs: null, finish_reason: "stop" }],
      }),
    );
  }
  if (includeUsage) out.push({ ...base, choices: [], usage: completion.usage });
  return out;
}
