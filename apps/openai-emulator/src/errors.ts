/**
 * OpenAI-shaped errors. Every failure the emulator reports is an `ApiError`; `app.onError` turns it
 * into OpenAI's body `{error:{message,type,param,code}}` with the matching status and headers.
 */

export type ErrorType = "invalid_request_error" | "server_error" | "requests" | "tokens" | "not_found_error";

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    opts: {
      type?: string;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = opts.type ?? "invalid_request_error";
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): ApiError {
  return new ApiError(400, message, { param, code });
}

export function missingParameter(param: string): ApiError {
  return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
}

export function invalidJsonBody(): ApiError {
  return invalidRequest(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
  );
}

/** The body of an emulated failure with the given HTTP status (fail markers and queued faults). */
export function statusError(status: number, model = "gpt-4o-mini", retryAfterSeconds?: number): ApiError {
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers["retry-after"] = String(retryAfterSeconds);
  switch (status) {
    case 400:
      return new ApiError(400, "Emulated failure: this request was rejected as invalid.", { headers });
    case 401:
      return new ApiError(401, "Incorrect API key provided.", { code: "invalid_api_key", headers });
    case 403:
      return new ApiError(403, "You are not allowed to perform this request with this key.", {
        code: "permission_denied",
        headers,
      });
    case 404:
      return new ApiError(404, "The requested resource does not exist.", { headers });
    case 429:
      return new ApiError(
        429,
        `Rate limit reached for ${model} in organization org-emulator on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.`,
        { type: "requests", code: "rate_limit_exceeded", headers },
      );
    case 503:
      return new ApiError(503, "The server is overloaded or not ready yet.", {
        type: "server_error",
        headers,
      });
    default:
      return new ApiError(
        status,
        "The server had an error while processing your request. Sorry about that!",
        { type: "server_error", headers },
      );
  }
}
