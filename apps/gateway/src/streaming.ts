import { type ApiError, type Endpoint, type Finished, invalidRequest } from "@batch-gpt/contracts";
import type { Context } from "hono";
import { lostRequest, recordAnswer, shuttingDown } from "./answers.ts";
import type { GatewayDeps, GatewayEnv } from "./deps.ts";
import { answerEvents, errorEvent, SSE_KEEPALIVE, STREAMABLE, type StreamOptions } from "./sse-events.ts";

/**
 * Streamed delivery (`stream: true`). A batch answer arrives whole, so it is replayed as the events
 * OpenAI would have streamed. While the caller waits, SSE comments keep proxies and clients from
 * cutting the connection. Until the first comment is due nothing is sent, so an answer that fails
 * early still reaches the SDK as a plain HTTP error with its own status; once the stream has started,
 * a failure arrives as an error event and the stream ends.
 */

const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

type Json = Record<string, unknown>;

/** Rejects `stream: true` where OpenAI has no streamed form, before anything is queued. */
export function assertStreamable(endpoint: Endpoint): void {
  if (!STREAMABLE.has(endpoint)) {
    throw invalidRequest("Unrecognized request argument supplied: stream", "stream", "unknown_parameter");
  }
}

export const streamOptionsOf = (body: Json): StreamOptions => ({
  includeUsage: (body.stream_options as Json | null | undefined)?.include_usage === true,
});

/** The body the batch line carries: delivery fields stripped (a batch line cannot stream). */
export function batchableBody(body: Json): string {
  const { stream: _stream, stream_options: _options, ...rest } = body;
  return JSON.stringify(rest);
}

/** A cached answer, streamed. */
export function streamCached(c: Context<GatewayEnv>, endpoint: Endpoint, request: Json, answer: string) {
  const events = answerEvents(endpoint, JSON.parse(answer) as Json, streamOptionsOf(request));
  return c.body(events.join(""), 200, { ...SSE_HEADERS, "x-batch-cache": "hit" });
}

const KEEPALIVE_DUE = Symbol("keepalive-due");

/** Holds a streamed caller until `requestId` is answered, then replays the answer as events. */
export async function streamWhenReady(
  c: Context<GatewayEnv>,
  deps: GatewayDeps,
  target: { endpoint: Endpoint; request: Json; requestId: string; key: string },
): Promise<Response> {
  const { endpoint, requestId, key } = target;
  const options = streamOptionsOf(target.request);
  const keepaliveMs = deps.config.SSE_KEEPALIVE_MS;
  const caller = new AbortController();
  const gone = () => caller.abort();
  c.req.raw.signal.addEventListener("abort", gone, { once: true });
  const answer = deps.waiters.wait(requestId, caller.signal);
  const release = () => deps.inflight.release(key, requestId).catch(() => {});

  let timer: NodeJS.Timeout | undefined;
  const early = await Promise.race([
    answer,
    new Promise<typeof KEEPALIVE_DUE>((resolve) => {
      timer = setTimeout(() => resolve(KEEPALIVE_DUE), keepaliveMs);
    }),
  ]);
  clearTimeout(timer);
  if (early !== KEEPALIVE_DUE) {
    c.req.raw.signal.removeEventListener("abort", gone);
    if (typeof early === "string") throw await notAnswered(early, release);
    if (!succeeded(early)) return recordAnswer(c, early);
    c.header("x-batch-cache", "miss");
    return c.body(answerEvents(endpoint, answerBody(early), options).join(""), 200, SSE_HEADERS);
  }

  const encoder = new TextEncoder();
  let open = true;
  let keepalive: NodeJS.Timeout | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        if (open) controller.enqueue(encoder.encode(text));
      };
      const finish = () => {
        if (!open) return;
        open = false;
        clearInterval(keepalive);
        c.req.raw.signal.removeEventListener("abort", gone);
        controller.close();
      };
      send(SSE_KEEPALIVE);
      keepalive = setInterval(() => send(SSE_KEEPALIVE), keepaliveMs);
      // The caller may have gone while we waited for the first keep-alive to be due.
      const callerGone = new Promise<"gone">((resolve) => {
        if (caller.signal.aborted) resolve("gone");
        else caller.signal.addEventListener("abort", () => resolve("gone"), { once: true });
      });
      void Promise.race([answer, callerGone])
        .then(async (result) => {
          if (result === "gone") return;
          if (typeof result === "string") {
            const error = await notAnswered(result, release);
            send(errorEvent(endpoint, error.toBody().error as unknown as Json));
          } else if (!succeeded(result)) {
            send(errorEvent(endpoint, errorOf(result)));
          } else {
            for (const event of answerEvents(endpoint, answerBody(result), options)) send(event);
          }
        })
        .catch((err: unknown) => {
          deps.log.error({ err, requestId }, "streamed answer failed");
          send(
            errorEvent(endpoint, {
              message: "The server had an error while streaming your answer.",
              type: "server_error",
              param: null,
              code: null,
            }),
          );
        })
        .finally(finish);
    },
    cancel() {
      // The caller went away: free its waiter. The request goes on (others may share it; it gets cached).
      open = false;
      clearInterval(keepalive);
      caller.abort();
    },
  });
  c.header("x-batch-cache", "miss");
  return c.body(stream, 200, SSE_HEADERS);
}

/**
 * The wait ended without an answer: "lost" (the request exists nowhere: free its key, a retry starts
 * afresh) or this gateway is shutting down (the request goes on; a retry attaches to it elsewhere).
 */
async function notAnswered(result: string, release: () => Promise<unknown>): Promise<ApiError> {
  if (result === "lost") {
    await release();
    return lostRequest();
  }
  return shuttingDown();
}

const succeeded = (record: Finished) =>
  record.state === "succeeded" &&
  record.answer !== null &&
  record.answer.statusCode >= 200 &&
  record.answer.statusCode < 300;

function answerBody(record: Finished): Json {
  return JSON.parse(record.answer?.body ?? "{}") as Json;
}

/** The OpenAI error object of a failed answer (its own, or a generic one if the body has none). */
function errorOf(record: Finished): Json {
  try {
    const body = JSON.parse(record.answer?.body ?? "null") as { error?: Json } | null;
    if (body?.error && typeof body.error === "object") return body.error;
  } catch {
    // fall through to the generic error
  }
  return {
    message: `The request failed with status ${record.answer?.statusCode ?? "unknown"}.`,
    type: "server_error",
    param: null,
    code: null,
  };
}
