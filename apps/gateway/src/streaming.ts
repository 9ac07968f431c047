import { ApiError, type Outcome, openAIError } from "@batch-gpt/contracts";
import type { Context } from "hono";
import type { GatewayDeps, GatewayEnv } from "./deps.ts";
import type { IntakeRequest } from "./intake.ts";
import { callerSignal } from "./request-body.ts";
import { streamOptionsOf } from "./request-shape.ts";
import { outcomeResponse } from "./responses.ts";
import { answerEvents, errorEvent, SSE_KEEPALIVE } from "./sse-events.ts";

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

/** A cached answer, streamed. */
export function streamCached(c: Context<GatewayEnv>, req: IntakeRequest, answer: string) {
  const events = answerEvents(req.endpoint, JSON.parse(answer) as Json, streamOptionsOf(req.body));
  return c.body(events.join(""), 200, { ...SSE_HEADERS, "x-batch-cache": "hit" });
}

const KEEPALIVE_DUE = Symbol("keepalive-due");

/** Holds a streamed caller until its request is answered, then replays the answer as events. */
export async function streamWhenReady(
  c: Context<GatewayEnv>,
  deps: Pick<GatewayDeps, "config" | "intake" | "log">,
  req: IntakeRequest,
  pending: { requestId: string; key: string; attached: boolean },
): Promise<Response> {
  const { endpoint } = req;
  const options = streamOptionsOf(req.body);
  // Every answer from here on is a miss (also the 503 of a lost request or a stopping gateway).
  c.header("x-batch-cache", "miss");
  const keepaliveMs = deps.config.SSE_KEEPALIVE_MS;
  const caller = new AbortController();
  const gone = () => caller.abort();
  const signal = callerSignal(c);
  signal.addEventListener("abort", gone, { once: true });
  const outcome = deps.intake.wait(pending, caller.signal);

  let timer: NodeJS.Timeout | undefined;
  const keepaliveDue = new Promise<typeof KEEPALIVE_DUE>((resolve) => {
    timer = setTimeout(() => resolve(KEEPALIVE_DUE), keepaliveMs);
  });
  try {
    // Rejects (lost, shutting down) before the first keep-alive: a plain HTTP error, thrown on.
    const early = await Promise.race([outcome, keepaliveDue]);
    if (early !== KEEPALIVE_DUE) {
      signal.removeEventListener("abort", gone);
      if (!succeeded(early)) return outcomeResponse(c, early);
      return c.body(answerEvents(endpoint, answerBody(early), options).join(""), 200, SSE_HEADERS);
    }
  } finally {
    clearTimeout(timer);
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
        signal.removeEventListener("abort", gone);
        controller.close();
      };
      send(SSE_KEEPALIVE);
      keepalive = setInterval(() => send(SSE_KEEPALIVE), keepaliveMs);
      // The caller may have gone while we waited for the first keep-alive to be due.
      const callerGone = new Promise<"gone">((resolve) => {
        if (caller.signal.aborted) resolve("gone");
        else caller.signal.addEventListener("abort", () => resolve("gone"), { once: true });
      });
      void Promise.race([outcome, callerGone])
        .then((result) => {
          if (result === "gone") return;
          if (!succeeded(result)) send(errorEvent(endpoint, errorOf(result)));
          else for (const event of answerEvents(endpoint, answerBody(result), options)) send(event);
        })
        .catch((err: unknown) => {
          if (err instanceof ApiError) {
            send(errorEvent(endpoint, { ...err.toBody().error }));
            return;
          }
          deps.log.error({ err, requestId: pending.requestId }, "streamed answer failed");
          send(
            errorEvent(endpoint, {
              ...openAIError(500, "The server had an error while streaming your answer."),
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
  return c.body(stream, 200, SSE_HEADERS);
}

const succeeded = (outcome: Outcome) =>
  outcome.state === "succeeded" && outcome.answer.statusCode >= 200 && outcome.answer.statusCode < 300;

function answerBody(outcome: Outcome): Json {
  return JSON.parse(outcome.answer.body) as Json;
}

/** The OpenAI error object of a failed answer (its own, or a generic one if the body has none). */
function errorOf(outcome: Outcome): Json {
  try {
    const body = JSON.parse(outcome.answer.body) as { error?: Json } | null;
    if (body?.error && typeof body.error === "object") return body.error;
  } catch {
    // fall through to the generic error
  }
  return { ...openAIError(500, `The request failed with status ${outcome.answer.statusCode}.`) };
}
