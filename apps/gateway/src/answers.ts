import { ApiError, type Finished } from "@batch-gpt/contracts";
import type { Context } from "hono";

/** How a finished request goes back to its caller. Streamed delivery lives in streaming.ts. */

const JSON_TYPE = { "content-type": "application/json" };

export function cachedAnswer(c: Context, body: string): Response {
  return c.body(body, 200, { ...JSON_TYPE, "x-batch-cache": "hit" });
}

/** A terminal record: the line's own status and body. Failures say "don't retry": it would fail again. */
export function recordAnswer(
  c: Context,
  record: Pick<Finished, "state"> & { answer: Finished["answer"] | null },
): Response {
  if (!record.answer)
    throw new ApiError(500, "The request finished without an answer.", { type: "server_error" });
  const status = record.answer.statusCode as 200;
  const headers: Record<string, string> = { ...JSON_TYPE, "x-batch-cache": "miss" };
  if (record.state === "failed") headers["x-should-retry"] = "false";
  return c.body(record.answer.body, status, headers);
}

/** The request vanished (its queue job and record are both gone): a retry starts a fresh attempt. */
export const lostRequest = () =>
  new ApiError(503, "The request was lost before it reached a batch; please retry.", {
    type: "server_error",
    code: "request_lost",
  });

/** This gateway is stopping; the request itself goes on, and the SDK's retry attaches to it elsewhere. */
export const shuttingDown = () =>
  new ApiError(503, "The gateway is restarting; please retry: the request is still pending.", {
    type: "server_error",
    code: "server_shutting_down",
  });
