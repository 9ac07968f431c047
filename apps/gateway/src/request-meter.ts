import { ApiError, type Endpoint } from "@batch-gpt/contracts";
import type { GatewayMetrics, RequestOutcome } from "@batch-gpt/metrics";
import type { Context, Handler } from "hono";
import type { ServingMode } from "./config.ts";
import type { GatewayEnv } from "./deps.ts";
import { onCallerGone } from "./request-body.ts";
import { deliveredOutcome } from "./responses.ts";
import { servingMode } from "./serving-mode.ts";

/**
 * Counts and times every call to a batched endpoint once, by how it ended (`batchgpt_requests_total`,
 * `batchgpt_request_duration_seconds`). It wraps the route and reads the outcome off what the route
 * produced, so the request path itself carries no metrics code: the response (a cache hit, a 202, the
 * line's answer), the error thrown (lost, shutting down, refused), the end of a stream, or the caller
 * leaving first.
 */
export class RequestMeter {
  readonly #metrics: GatewayMetrics;
  readonly #defaultMode: ServingMode;

  constructor(metrics: GatewayMetrics, defaultMode: ServingMode) {
    this.#metrics = metrics;
    this.#defaultMode = defaultMode;
  }

  /** A cache lookup's result (calls sent with `Cache-Control: no-cache` make none). */
  cacheLookup(hit: boolean): void {
    this.#metrics.cacheLookups.inc({ result: hit ? "hit" : "miss" });
  }

  /** A call attached to an identical request already in flight. */
  attached(endpoint: Endpoint): void {
    this.#metrics.dedupAttaches.inc({ endpoint });
  }

  /** `handler` (the POST of `endpoint`), metered. */
  route(endpoint: Endpoint, handler: Handler<GatewayEnv>): Handler<GatewayEnv> {
    // Not async: the handler's promise is chained, so a held caller keeps no suspended frame here.
    return (c, next) => {
      const started = performance.now();
      let ended = false;
      const end = (outcome: RequestOutcome) => {
        if (ended) return;
        ended = true;
        this.#metrics.requests.inc({ endpoint, mode: this.#modeOf(c), outcome });
        this.#metrics.duration.observe({ endpoint, outcome }, (performance.now() - started) / 1000);
      };
      // A caller that leaves before its answer: its handler never returns (the request goes on).
      onCallerGone(c, () => end("gone"));
      const failed = (err: unknown) => {
        end(outcomeOfError(err));
        throw err;
      };
      try {
        return Promise.resolve(handler(c, next)).then(
          (response) => this.#ended(response as Response, end),
          failed,
        );
      } catch (err) {
        return failed(err);
      }
    };
  }

  /** The response, counted now, or when its stream ends. */
  #ended(response: Response, end: (outcome: RequestOutcome) => void): Response {
    const outcome = outcomeOfResponse(response);
    if (outcome !== "streaming" || !response.body) {
      end(outcome === "streaming" ? "succeeded" : outcome);
      return response;
    }
    // A streamed answer: it failed if it carries an error event, which is known when the stream ends.
    let failed = false;
    const decoder = new TextDecoder();
    const watched = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          if (!failed && isErrorEvent(decoder.decode(chunk))) failed = true;
          controller.enqueue(chunk);
        },
        flush() {
          end(failed ? "failed" : "succeeded");
        },
      }),
    );
    return new Response(watched, { status: response.status, headers: response.headers });
  }

  #modeOf(c: Context<GatewayEnv>): ServingMode {
    try {
      return servingMode(c.req.header("x-batch-mode"), this.#defaultMode);
    } catch {
      return this.#defaultMode;
    }
  }
}

/** How a call ended, from its response; "streaming" when that is known only at the stream's end. */
export function outcomeOfResponse(response: Response): RequestOutcome | "streaming" {
  // Said by responses.ts for the responses it makes: reading their headers would build a fetch
  // `Headers` for each (see `respond` there).
  const delivered = deliveredOutcome(response);
  if (delivered) return delivered;
  if (response.headers.get("x-batch-cache") === "hit") return "cache_hit";
  if (response.status === 202) return "accepted";
  if (response.status < 200 || response.status >= 300) return "failed";
  // A streamed answer may still end with an error event: known once the stream ends.
  if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) return "streaming";
  return "succeeded";
}

/** How a call ended, from the error its route threw. */
export function outcomeOfError(err: unknown): RequestOutcome {
  if (!(err instanceof ApiError)) {
    const status = (err as { status?: unknown }).status;
    return typeof status === "number" && status < 500 ? "rejected" : "error";
  }
  if (err.code === "request_lost") return "lost";
  if (err.code === "server_shutting_down") return "shutdown";
  if (err.code === "cache_miss") return "cache_miss";
  return err.status < 500 ? "rejected" : "error";
}

/** The error event of a stream (streaming.ts sends each event as one chunk). */
function isErrorEvent(text: string): boolean {
  return text.startsWith("event: error\n") || text.startsWith('data: {"error":');
}
