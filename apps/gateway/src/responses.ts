import {
  ApiError,
  type Endpoint,
  type Outcome,
  PENDING_FIELDS,
  PENDING_OBJECT,
  type RequestState,
} from "@batch-gpt/contracts";
import type { Context } from "hono";

/** How an answer goes back to its caller as a plain JSON response. Streamed delivery: streaming.ts. */

const JSON_TYPE = { "content-type": "application/json" };

export function cachedResponse(c: Context, body: string): Response {
  return c.body(body, 200, { ...JSON_TYPE, "x-batch-cache": "hit" });
}

/** A finished request: the line's own status and body. Failures say "don't retry": it would fail again. */
export function outcomeResponse(c: Context, outcome: Outcome): Response {
  const status = outcome.answer.statusCode as 200;
  const headers: Record<string, string> = { ...JSON_TYPE, "x-batch-cache": "miss" };
  if (outcome.state === "failed") headers["x-should-retry"] = "false";
  return c.body(outcome.answer.body, status, headers);
}

/** The 202 body of an async call not answered yet: the endpoint's object, empty, with a status. */
export function pendingObject(
  call: { id: string; endpoint: Endpoint; created: number },
  state: RequestState,
) {
  return {
    id: call.id,
    object: PENDING_OBJECT[call.endpoint],
    status: state === "queued" ? "queued" : "in_progress",
    created: call.created,
    ...PENDING_FIELDS[call.endpoint],
  };
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

export const callNotFound = (id: string) =>
  new ApiError(404, `No request found with id '${shownId(id)}'.`, { code: "not_found" });

/** An id quoted back in an error: never more than a short, printable piece of what was sent. */
export const shownId = (id: string) => id.replace(/[^\x20-\x7e]/g, "?").slice(0, 64);
