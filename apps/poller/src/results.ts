import { errorAnswer, type StoredAnswer } from "@batch-gpt/contracts";
import type { LineOutcome } from "@batch-gpt/pipeline";

/** One line of a provider output or error file. */
interface ResultLine {
  custom_id?: string;
  response?: { status_code?: number; body?: unknown } | null;
  error?: { code?: string | null; message?: string | null } | null;
}

/** Error codes meaning "this line never ran": it is worth sending again. */
const UNFINISHED_CODES = new Set(["batch_expired", "batch_cancelled"]);

/**
 * Reads one result-file line into an outcome for the request it answers. Returns null for a line
 * we can't attribute (no custom_id, not one of this batch's lines).
 */
export function parseResultLine(text: string, attempts: Map<string, number>): LineOutcome | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  // Valid JSON that is not an object (null, a number, a list) is no result line either.
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const line = parsed as ResultLine;
  const requestId = line.custom_id;
  if (typeof requestId !== "string" || requestId === "") return null;
  const attempt = attempts.get(requestId);
  if (attempt === undefined) return null;
  if (line.response && typeof line.response.status_code === "number") {
    const answer: StoredAnswer = {
      statusCode: line.response.status_code,
      body: JSON.stringify(line.response.body ?? null),
    };
    return { kind: "answer", requestId, attempt, answer };
  }
  const code = line.error?.code ?? "batch_line_failed";
  const message = line.error?.message ?? "The batch line failed without a response.";
  if (UNFINISHED_CODES.has(code)) {
    return {
      kind: "unfinished",
      requestId,
      attempt,
      answer: errorAnswer(503, message, { code }),
    };
  }
  return { kind: "answer", requestId, attempt, answer: errorAnswer(400, message, { code }) };
}
