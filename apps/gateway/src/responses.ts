import {
  ApiError,
  type Endpoint,
  type Outcome,
  PENDING_FIELDS,
  PENDING_OBJECT,
  type RequestState,
} from "@batch-gpt/contracts";
import type { RequestOutcome } from "@batch-gpt/metrics";
import type { Context } from "hono";
import type { GatewayEnv } from "./deps.ts";
import { nodeOf } from "./request-body.ts";

/** How an answer goes back to its caller as a plain JSON response. Streamed delivery: streaming.ts. */

const JSON_TYPE = "application/json";

/** How each response made here ended its call, for the request meter (which reads no headers). */
const outcomes = new WeakMap<Response, RequestOutcome>();

/** How a response made here ended its call (undefined for any other response). */
export const deliveredOutcome = (response: Response): RequestOutcome | undefined => outcomes.get(response);

/**
 * A response with exactly these headers. On Node the headers stay a plain object all the way to
 * `writeHead`: Hono's `c.body` with several headers builds a fetch `Headers` (validated header by
 * header), which @hono/node-server then turns back into an object; per request, that was a
 * measurable share of a cache hit. Headers set on the Node response before (the request id) go out
 * with it. Without Node's objects (an app driven by `app.request`), Hono's own way.
 */
function respond(
  c: Context<GatewayEnv>,
  body: string,
  status: number,
  headers: Record<string, string>,
  outcome: RequestOutcome,
): Response {
  const response = nodeOf(c).outgoing
    ? new Response(body, { status, headers })
    : c.body(body, status as 200, headers);
  outcomes.set(response, outcome);
  return response;
}

/**
 * A header every response to this request carries, whatever it turns out to be (an answer, or the
 * error of a lost request): set on Node's response, so no fetch `Headers` is built for it.
 */
export function headerForAll(c: Context<GatewayEnv>, name: string, value: string): void {
  const { outgoing } = nodeOf(c);
  if (outgoing) outgoing.setHeader(name, value);
  else c.header(name, value);
}

export function cachedResponse(c: Context<GatewayEnv>, body: string): Response {
  return respond(c, body, 200, { "content-type": JSON_TYPE, "x-batch-cache": "hit" }, "cache_hit");
}

/** A finished request: the line's own status and body. Failures say "don't retry": it would fail again. */
export function outcomeResponse(c: Context<GatewayEnv>, outcome: Outcome): Response {
  const status = outcome.answer.statusCode;
  const headers: Record<string, string> = { "content-type": JSON_TYPE, "x-batch-cache": "miss" };
  if (outcome.state === "failed") headers["x-should-retry"] = "false";
  return respond(
    c,
    outcome.answer.body,
    status,
    headers,
    status >= 200 && status < 300 ? "succeeded" : "failed",
  );
}

/** The 202 of an async call just accepted. */
export function acceptedResponse(c: Context<GatewayEnv>, call: ReturnType<typeof pendingObject>): Response {
  return respond(
    c,
    JSON.stringify(call),
    202,
    { "content-type": JSON_TYPE, "x-batch-cache": "miss" },
    "accepted",
  );
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
