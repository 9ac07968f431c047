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
    const { status_code: statusCode, body } = line.response;
    const answer: StoredAnswer = { statusCode, body: JSON.stringify(body ?? null) };
    // The body is parsed here already: its usage is taken now rather than parsed again when stored.
    const usage =
      statusCode >= 200 && statusCode < 300 && typeof body === "object" && body !== null && "usage" in body
        ? usageText((body as { usage?: unknown }).usage)
        : null;
    return { kind: "answer", requestId, attempt, answer, usage };
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

/** Usage as the outcome stores it (JSON), or null when the answer has none. */
const usageText = (usage: unknown) => (usage ? JSON.stringify(usage) : null);
