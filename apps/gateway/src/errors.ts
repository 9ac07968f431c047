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
  return new ApiError(500, "The server had an error while processing your request.", {
    type: "server_error",
  });
}

export function notFoundHandler(c: Context): Response {
  return c.json(
    new ApiError(404, `Invalid URL (${c.req.method} ${c.req.path})`, {
      type: "invalid_request_error",
    }).toBody(),
    404,
  );
}
