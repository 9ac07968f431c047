import type { Logger } from "@batch-gpt/config";
import { ApiError } from "@batch-gpt/contracts";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";

/** The one place failures become responses: always OpenAI's error body, never a bare 5xx. */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context): Response => {
    const api = toApiError(err);
    if (api.status >= 500) log.error({ err, requestId: c.get("requestId") }, "request failed");
    const headers: Record<string, string> = { ...api.headers };
    if (api.shouldRetry === false) headers["x-should-retry"] = "false";
    return c.json(api.toBody(), api.status as 400, headers);
  };
}

function toApiError(err: Error): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413)
      return new ApiError(413, err.message || "Request body too large.", { code: "request_too_large" });
    return new ApiError(err.status, err.message || "Bad request.");
  }
  const dependency = unreachableDependency(err);
  if (dependency) {
    return new ApiError(503, `The gateway cannot reach its ${dependency} right now; please retry.`, {
      type: "server_error",
      code: "service_unavailable",
      headers: { "retry-after": "1" },
    });
  }
  return new ApiError(500, "The server had an error while processing your request.", {
    type: "server_error",
  });
}

const MONGO_DOWN = new Set([
  "MongoServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoNotConnectedError",
  "MongoTopologyClosedError",
  "MongoPoolClearedError",
]);

/**
 * Redis or MongoDB is down or unreachable: a 503 the caller may retry (the SDKs do), not a 500. ioredis
 * gives up on a command after its reconnection attempts (`maxRetriesPerRequest`) or on a closed
 * connection; the MongoDB driver after MONGO_FAIL_FAST_MS without a server.
 */
function unreachableDependency(err: Error): "store" | "queue" | null {
  if (MONGO_DOWN.has(err.name)) return "store";
  if (
    err.name === "MaxRetriesPerRequestError" ||
    /^Connection is closed|^Stream isn't writeable/.test(err.message)
  ) {
    return "queue";
  }
  const code = (err as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") return "queue";
  return null;
}

export function notFoundHandler(c: Context): Response {
  return c.json(
    new ApiError(404, `Invalid URL (${c.req.method} ${c.req.path})`, {
      type: "invalid_request_error",
    }).toBody(),
    404,
  );
}
