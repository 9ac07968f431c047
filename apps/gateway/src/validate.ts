import { ApiError, type Endpoint, invalidRequest, REQUIRED_FIELDS } from "@batch-gpt/contracts";
import { type JsonLimits, parseJsonBody } from "./json-body.ts";

/** Limits on a body before anything else is looked at (MAX_JSON_DEPTH, MAX_STRING_CHARS, MAX_MESSAGES). */
export interface BodyLimits extends JsonLimits {
  maxMessages: number;
}
export const DEFAULT_BODY_LIMITS: BodyLimits = {
  maxDepth: 64,
  maxStringChars: 10_485_760,
  maxMessages: 2048,
};

/**
 * Intake validation: what must hold before anything is queued. The body is otherwise passed on as the
 * client sent it: unknown fields stay, nothing is re-serialised through a narrow schema.
 */
export function parseRequestBody(
  endpoint: Endpoint,
  raw: string,
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
): Record<string, unknown> {
  let body: unknown;
  try {
    body = parseJsonBody(raw, limits);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
    );
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidRequest("The request body must be a JSON object.");
  }
  const fields = body as Record<string, unknown>;
  if (fields.model === undefined) throw invalidRequest("you must provide a model parameter", "model");
  if (typeof fields.model !== "string") {
    throw invalidRequest(
      `Invalid type for 'model': expected a string, but got ${typeof fields.model} instead.`,
      "model",
      "invalid_type",
    );
  }
  if (fields.model.length === 0) {
    throw invalidRequest("Invalid 'model': expected a non-empty string.", "model", "invalid_value");
  }
  for (const field of REQUIRED_FIELDS[endpoint]) {
    if (fields[field] === undefined || fields[field] === null) {
      throw invalidRequest(`Missing required parameter: '${field}'.`, field, "missing_required_parameter");
    }
  }
  if (
    endpoint === "/v1/chat/completions" &&
    (!Array.isArray(fields.messages) || fields.messages.length === 0)
  ) {
    throw invalidRequest(
      "Invalid 'messages': expected a non-empty array of messages.",
      "messages",
      "invalid_type",
    );
  }
  if (Array.isArray(fields.messages) && fields.messages.length > limits.maxMessages) {
    throw invalidRequest(
      `Invalid 'messages': array too long. Expected an array with maximum length ${limits.maxMessages}, but got an array with length ${fields.messages.length} instead.`,
      "messages",
      "array_above_max_length",
    );
  }
  // OpenAI refuses it; accepted, it would share a dedup key with the same body without it.
  if (fields.stream_options !== undefined && fields.stream_options !== null && fields.stream !== true) {
    throw invalidRequest(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      "stream_options",
    );
  }
  // OpenAI documents `stream` as "boolean or null"; null means not streamed.
  if (fields.stream !== undefined && fields.stream !== null && typeof fields.stream !== "boolean") {
    throw invalidRequest("Invalid type for 'stream': expected a boolean.", "stream", "invalid_type");
  }
  return fields;
}
