import { ApiError, CALL_ID_PREFIX, type Endpoint, invalidRequest, newCallId } from "@batch-gpt/contracts";
import type { Context } from "hono";
import type { GatewayDeps, GatewayEnv } from "./deps.ts";
import type { IntakeRequest } from "./intake.ts";
import { readBody } from "./request-body.ts";
import { servingMode } from "./serving-mode.ts";
import { STREAMABLE, type StreamOptions } from "./sse-events.ts";
import { parseRequestBody } from "./validate.ts";

type Json = Record<string, unknown>;

/** Reads and validates a POST to `endpoint`; every refusal is OpenAI's 400 before anything is queued. */
export async function readIntakeRequest(
  c: Context<GatewayEnv>,
  endpoint: Endpoint,
  deps: Pick<GatewayDeps, "config">,
): Promise<IntakeRequest> {
  const type = c.req.header("content-type");
  if (type !== undefined && !isJson(type)) throw unsupportedType(type);
  const text = await readBody(c, deps.config.MAX_BODY_BYTES);
  const body = parseRequestBody(endpoint, text, {
    maxDepth: deps.config.MAX_JSON_DEPTH,
    maxStringChars: deps.config.MAX_STRING_CHARS,
    maxMessages: deps.config.MAX_MESSAGES,
  });
  const caller = c.get("caller");
  if (caller.models && !caller.models.has(body.model as string)) throw modelNotFound(body.model as string);
  const mode = servingMode(c.req.header("x-batch-mode"), deps.config.CLIENT_SERVING_MODE);
  const stream = body.stream === true;
  if (stream && mode === "async") {
    throw invalidRequest(
      "'stream: true' cannot be combined with async mode: fetch the answer by id instead.",
      "stream",
    );
  }
  if (stream && !STREAMABLE.has(endpoint)) {
    throw invalidRequest("Unrecognized request argument supplied: stream", "stream", "unknown_parameter");
  }
  return {
    endpoint,
    tenant: caller.tenant,
    scope: deps.config.CACHE_SCOPE === "shared" ? SHARED_SCOPE : caller.tenant,
    keyId: caller.keyId,
    ...(mode === "async" ? { callId: newCallId(CALL_ID_PREFIX[endpoint]) } : {}),
    raw: stream ? batchableBody(body) : text,
    body,
    traceId: c.get("requestId"),
    mode,
    stream,
    useCache: !/no-cache/i.test(c.req.header("cache-control") ?? ""),
  };
}

/** `application/json` or a `+json` type, with any parameters (`; charset=utf-8`). */
const isJson = (type: string) => /^\s*application\/([\w.-]+\+)?json\s*(;|$)/i.test(type);

const unsupportedType = (type: string) =>
  new ApiError(
    415,
    `Unsupported content type '${type.replace(/[^\x20-\x7e]/g, "?").slice(0, 80)}': send the body as application/json.`,
    { type: "invalid_request_error", code: "unsupported_content_type" },
  );

/** The cache and dedup scope of every tenant with CACHE_SCOPE=shared. */
const SHARED_SCOPE = "shared";

/** OpenAI's answer for a model the key may not use: as if it did not exist. Nothing is queued. */
const modelNotFound = (model: string) =>
  new ApiError(404, `The model \`${model}\` does not exist or you do not have access to it.`, {
    type: "invalid_request_error",
    code: "model_not_found",
  });

export const streamOptionsOf = (body: Json): StreamOptions => ({
  includeUsage: (body.stream_options as Json | null | undefined)?.include_usage === true,
});

/** The body the batch line carries: delivery fields stripped (a batch line cannot stream). */
function batchableBody(body: Json): string {
  const { stream: _stream, stream_options: _options, ...rest } = body;
  return JSON.stringify(rest);
}
