import type { StoredAnswer } from "@batch-gpt/contracts";

/** An answer carrying OpenAI's error body, for failures we decide rather than read from a file. */
export function errorAnswer(
  statusCode: number,
  message: string,
  code: string | null,
  type = "invalid_request_error",
): StoredAnswer {
  return { statusCode, body: JSON.stringify({ error: { message, type, param: null, code } }) };
}
