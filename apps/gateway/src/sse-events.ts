import type { Endpoint } from "@batch-gpt/contracts";

/**
 * A finished answer body replayed as the Server-Sent Events OpenAI would have streamed for it.
 * Pure functions: the body in, the SSE text out. Joining every delta gives back the body's content.
 */

type Json = Record<string, unknown>;

export interface StreamOptions {
  /** `stream_options.include_usage`: every chunk carries `usage: null`, then a last chunk with the usage. */
  includeUsage: boolean;
}

/** Endpoints that answer `stream: true`; the others get OpenAI's 400. */
export const STREAMABLE: ReadonlySet<Endpoint> = new Set<Endpoint>([
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/responses",
]);

const sseData = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;
const sseEvent = (event: string, data: unknown): string =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const SSE_DONE = "data: [DONE]\n\n";
export const SSE_KEEPALIVE = ": keep-alive\n\n";

/** The SSE frames for a successful answer body of `endpoint`. */
export function answerEvents(endpoint: Endpoint, body: Json, opts: StreamOptions): string[] {
  switch (endpoint) {
    case "/v1/chat/completions":
      return [...chatChunks(body, opts).map(sseData), SSE_DONE];
    case "/v1/completions":
      return [...completionChunks(body, opts).map(sseData), SSE_DONE];
    case "/v1/responses":
      return responseEvents(body).map((e) => sseEvent(e.type as string, e));
    case "/v1/embeddings":
      throw new Error("embeddings have no streamed form");
  }
}

/** A failure once the stream has started: OpenAI's error object as a data event; the stream then ends. */
export function errorEvent(endpoint: Endpoint, error: Json): string {
  if (endpoint === "/v1/responses") {
    return sseEvent("error", {
      type: "error",
      code: error.code ?? null,
      message: error.message ?? "The request failed.",
      param: error.param ?? null,
      error,
    });
  }
  return sseData({ error });
}

const asArray = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

/** `chat.completion` → `chat.completion.chunk`s: per choice a role chunk, its content, tool calls, finish. */
export function chatChunks(body: Json, opts: StreamOptions): Json[] {
  const base: Json = {
    id: body.id,
    object: "chat.completion.chunk",
    created: body.created,
    model: body.model,
    system_fingerprint: body.system_fingerprint ?? null,
  };
  if (body.service_tier !== undefined) base.service_tier = body.service_tier;
  if (opts.includeUsage) base.usage = null;
  const chunk = (index: number, delta: Json, extra: Json = {}): Json => ({
    ...base,
    choices: [{ index, delta, logprobs: null, finish_reason: null, ...extra }],
  });
  const chunks: Json[] = [];
  for (const choice of asArray(body.choices)) {
    const index = (choice.index as number | undefined) ?? 0;
    const message = (choice.message ?? {}) as Json;
    chunks.push(chunk(index, { role: message.role ?? "assistant", content: "", refusal: null }));
    if (typeof message.content === "string" && message.content !== "") {
      chunks.push(chunk(index, { content: message.content }, { logprobs: choice.logprobs ?? null }));
    }
    if (typeof message.refusal === "string" && message.refusal !== "") {
      chunks.push(chunk(index, { refusal: message.refusal }));
    }
    asArray(message.tool_calls).forEach((call, i) => {
      chunks.push(chunk(index, { tool_calls: [{ index: i, ...call }] }));
    });
    chunks.push(chunk(index, {}, { finish_reason: choice.finish_reason ?? "stop" }));
  }
  if (opts.includeUsage) chunks.push({ ...base, choices: [], usage: body.usage ?? null });
  return chunks;
}

/** `text_completion` → streamed `text_completion` objects: per choice its text, then its finish. */
export function completionChunks(body: Json, opts: StreamOptions): Json[] {
  const base: Json = { id: body.id, object: "text_completion", created: body.created, model: body.model };
  if (body.system_fingerprint !== undefined) base.system_fingerprint = body.system_fingerprint;
  if (opts.includeUsage) base.usage = null;
  const chunks: Json[] = [];
  for (const choice of asArray(body.choices)) {
    const index = (choice.index as number | undefined) ?? 0;
    chunks.push({
      ...base,
      choices: [{ text: choice.text ?? "", index, logprobs: choice.logprobs ?? null, finish_reason: null }],
    });
    chunks.push({
      ...base,
      choices: [{ text: "", index, logprobs: null, finish_reason: choice.finish_reason ?? "stop" }],
    });
  }
  if (opts.includeUsage) chunks.push({ ...base, choices: [], usage: body.usage ?? null });
  return chunks;
}

/**
 * A `response` → Responses streaming events: created, in_progress, per output item its added / part /
 * delta / done events, then completed (or incomplete / failed, as the response's status says).
 */
export function responseEvents(response: Json): Json[] {
  const events: Json[] = [];
  const push = (type: string, fields: Json) =>
    events.push({ type, sequence_number: events.length, ...fields });
  const pending = { ...response, status: "in_progress", output: [], usage: null, completed_at: null };
  push("response.created", { response: pending });
  push("response.in_progress", { response: pending });
  asArray(response.output).forEach((item, outputIndex) => {
    const itemId = item.id;
    if (item.type === "message") {
      push("response.output_item.added", {
        output_index: outputIndex,
        item: { ...item, status: "in_progress", content: [] },
      });
      asArray(item.content).forEach((part, contentIndex) => {
        const at = { item_id: itemId, output_index: outputIndex, content_index: contentIndex };
        if (part.type === "output_text") {
          const text = typeof part.text === "string" ? part.text : "";
          push("response.content_part.added", { ...at, part: { ...part, text: "", annotations: [] } });
          push("response.output_text.delta", { ...at, delta: text, logprobs: part.logprobs ?? [] });
          push("response.output_text.done", { ...at, text, logprobs: part.logprobs ?? [] });
        } else if (part.type === "refusal") {
          const refusal = typeof part.refusal === "string" ? part.refusal : "";
          push("response.content_part.added", { ...at, part: { ...part, refusal: "" } });
          push("response.refusal.delta", { ...at, delta: refusal });
          push("response.refusal.done", { ...at, refusal });
        } else {
          push("response.content_part.added", { ...at, part });
        }
        push("response.content_part.done", { ...at, part });
      });
    } else if (item.type === "function_call") {
      push("response.output_item.added", {
        output_index: outputIndex,
        item: { ...item, status: "in_progress", arguments: "" },
      });
      const at = { item_id: itemId, output_index: outputIndex };
      push("response.function_call_arguments.delta", { ...at, delta: item.arguments ?? "" });
      push("response.function_call_arguments.done", { ...at, arguments: item.arguments ?? "" });
    } else {
      push("response.output_item.added", { output_index: outputIndex, item });
    }
    push("response.output_item.done", { output_index: outputIndex, item });
  });
  const final =
    response.status === "failed"
      ? "response.failed"
      : response.status === "incomplete"
        ? "response.incomplete"
        : "response.completed";
  push(final, { response });
  return events;
}
