/** OpenAI's error body: what every error response of ours looks like. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error";

/**
 * A failure that maps to an HTTP status and OpenAI's error body. Thrown anywhere in a request; the
 * gateway's one error handler turns it into the response. `shouldRetry: false` tells the SDKs not to
 * resend (x-should-retry), for errors that would fail the same way again.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ErrorType | string;
  readonly param: string | null;
  readonly code: string | null;
  readonly shouldRetry: boolean | undefined;

  constructor(
    status: number,
    message: string,
    opts: {
      type?: ErrorType | string;
      param?: string | null;
      code?: string | null;
      shouldRetry?: boolean;
    } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = opts.type ?? defaultType(status);
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.shouldRetry = opts.shouldRetry;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultType(status: number): ErrorType {
  if (status === 401) return "authentication_error";
  if (status === 404) return "invalid_request_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, { param, code });
