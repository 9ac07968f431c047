import type { StoredAnswer } from "./records.ts";

/**
 * One error model. Every error a caller sees has OpenAI's body, built here and nowhere else:
 * `ApiError` for failures of a request we are serving, `errorAnswer` for a stored line outcome we
 * decide ourselves, `openAIError` for the few places that need the bare object (a stream's error event).
 * How a provider's failure becomes one of these: `ProviderError` in packages/provider/src/errors.ts.
 */

/** OpenAI's error object, and the body wrapping it: what every error response of ours looks like. */
export interface OpenAIError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}
export interface OpenAIErrorBody {
  error: OpenAIError;
}

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "not_found_error"
  | "permission_error"
  | "rate_limit_error"
  | "server_error";

export interface ErrorFields {
  type?: ErrorType | string;
  param?: string | null;
  code?: string | null;
}

/** OpenAI's type for a status, when the failure names none. */
function defaultErrorType(status: number): ErrorType {
  if (status === 401) return "authentication_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** The one builder of OpenAI's error object. */
export function openAIError(status: number, message: string, fields: ErrorFields = {}): OpenAIError {
  return {
    message,
    type: fields.type ?? defaultErrorType(status),
    param: fields.param ?? null,
    code: fields.code ?? null,
  };
}

/** A stored answer carrying OpenAI's error body: a line outcome we decide rather than read from a file. */
export function errorAnswer(statusCode: number, message: string, fields: ErrorFields = {}): StoredAnswer {
  const body: OpenAIErrorBody = { error: openAIError(statusCode, message, fields) };
  return { statusCode, body: JSON.stringify(body) };
}

/**
 * A failure that maps to an HTTP status and OpenAI's error body. Thrown anywhere in a request; the
 * gateway's one error handler turns it into the response. `shouldRetry: false` tells the SDKs not to
 * resend (x-should-retry), for errors that would fail the same way again.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly shouldRetry: boolean | undefined;
  /** Extra response headers (e.g. `retry-after` on a 429). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    opts: ErrorFields & { shouldRetry?: boolean; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "ApiError";
    const error = openAIError(status, message, opts);
    this.status = status;
    this.type = error.type;
    this.param = error.param;
    this.code = error.code;
    this.shouldRetry = opts.shouldRetry;
    this.headers = opts.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: openAIError(this.status, this.message, this) };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, { param, code });

/**
 * Text with anything that looks like a secret masked: OpenAI-style keys (`sk-…`, also the masked
 * `sk-proj-****…abcd` OpenAI quotes back), our gateway keys (`bgk-…`), bearer tokens and a URL's
 * password. For provider messages before they reach a caller or a stored answer, and every logged error.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b(sk|bgk)-[A-Za-z0-9_*-]{4,}/g, "$1-***")
    .replace(/\b(Bearer\s+)\S+/gi, "$1***")
    .replace(/(\/\/[^/@:\s]*):[^/@\s]*@/g, "$1:***@");
}
