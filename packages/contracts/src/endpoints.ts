/** The OpenAI endpoints we batch. Each becomes the `url` of a batch line and the batch's `endpoint`. */
export const ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/embeddings",
  "/v1/completions",
  "/v1/responses",
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** Prefix of the ids we hand to async callers, shaped like OpenAI's own ids for that endpoint. */
export const CALL_ID_PREFIX: Record<Endpoint, string> = {
  "/v1/chat/completions": "chatcmpl-",
  "/v1/completions": "cmpl-",
  "/v1/embeddings": "emb-",
  "/v1/responses": "resp_",
};

/** The `object` an async placeholder carries while its answer is pending. */
export const PENDING_OBJECT: Record<Endpoint, string> = {
  "/v1/chat/completions": "chat.completion",
  "/v1/completions": "text_completion",
  "/v1/embeddings": "list",
  "/v1/responses": "response",
};

/**
 * Empty collections an async placeholder carries, so SDKs that post-process an answer (the Node SDK
 * adds `output_text` from `output`, both SDKs decode base64 `data`) read a pending one without failing.
 */
export const PENDING_FIELDS: Record<Endpoint, Record<string, unknown[]>> = {
  "/v1/chat/completions": { choices: [] },
  "/v1/completions": { choices: [] },
  "/v1/embeddings": { data: [] },
  "/v1/responses": { output: [] },
};

/** Fields each endpoint requires besides `model` (checked at intake, before anything is queued). */
export const REQUIRED_FIELDS: Record<Endpoint, string[]> = {
  "/v1/chat/completions": ["messages"],
  "/v1/completions": ["prompt"],
  "/v1/embeddings": ["input"],
  "/v1/responses": ["input"],
};

/** OpenAI's per-batch limits: lines per batch, and for embeddings inputs per batch. */
export const MAX_LINES_PER_BATCH = 50_000;
export const MAX_EMBEDDING_INPUTS_PER_BATCH = 50_000;
/** OpenAI accepts batch files up to 200 MB; stay under it with room for the multipart envelope. */
export const MAX_BATCH_FILE_BYTES = 190 * 1024 * 1024;

/** How many embedding inputs a request body carries (a string, or an array of inputs). */
export function embeddingInputCount(body: Record<string, unknown>): number {
  const input = body.input;
  return Array.isArray(input) ? input.length : 1;
}
