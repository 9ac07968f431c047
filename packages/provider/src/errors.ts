import { ApiError, errorAnswer, redactSecrets, type StoredAnswer } from "@batch-gpt/contracts";

/**
 * How a provider's failure becomes the caller's error, in one file: one error class with OpenAI's
 * typed fields (built from either body shape a provider answers with), one rule for retryable versus
 * permanent, and the two ways it reaches a caller (relayed by our batch API, or as the answer of every
 * line of a batch the provider refused). Readers never look into a response body themselves.
 */

/** Statuses that will fail the same way again: 4xx, except timeout (408), conflict (409) and rate limit (429). */
export function isPermanentStatus(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status);
}

/** A provider call that failed: with the provider's HTTP status, or none for a network failure. */
export class ProviderError extends Error {
  readonly status: number | undefined;
  readonly type: string | null;
  readonly code: string | null;
  readonly param: string | null;

  constructor(
    message: string,
    opts: {
      status?: number | undefined;
      type?: string | null;
      code?: string | null;
      param?: string | null;
    } = {},
  ) {
    // A provider quotes a refused key back (OpenAI a masked form of it): never let that travel on, to a
    // caller, a stored answer or a log line.
    super(redactSecrets(message));
    this.name = "ProviderError";
    this.status = opts.status;
    this.type = opts.type ?? null;
    this.code = opts.code ?? null;
    this.param = opts.param ?? null;
  }

  /**
   * From an error response: the body may be OpenAI's whole `{error:{…}}` or the inner object alone (as
   * the SDK hands it on); `fallback` is the message when the body carries none.
   */
  static fromResponse(status: number | undefined, body: unknown, fallback: string): ProviderError {
    const outer = isObject(body) && isObject(body.error) ? body.error : body;
    const inner = isObject(outer) ? outer : {};
    return new ProviderError(stringOr(inner.message, fallback), {
      status,
      type: stringOr(inner.type, null),
      code: stringOr(inner.code, null),
      param: stringOr(inner.param, null),
    });
  }

  /** Refused for good: retrying would fail the same way. */
  get permanent(): boolean {
    return isPermanentStatus(this.status);
  }
}

/** A failure to give up on (a permanent provider refusal); anything else is worth retrying. */
export const isPermanentFailure = (error: unknown): error is ProviderError =>
  error instanceof ProviderError && error.permanent;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function stringOr<T extends string | null>(value: unknown, fallback: T): string | T {
  return typeof value === "string" && value !== "" ? value : fallback;
}

/**
 * A provider failure relayed by our own API (batch retrieve / cancel): its status and words kept; a
 * 409 is final (x-should-retry: false); a provider 5xx is our 502. Anything else is rethrown as is.
 */
export function relayedError(error: unknown): unknown {
  if (!(error instanceof ProviderError) || error.status === undefined) return error;
  if (refusedCredentials(error)) return credentialsRefused();
  if (error.status === 409) return new ApiError(409, error.message, { code: error.code, shouldRetry: false });
  if (error.status >= 500) {
    return new ApiError(502, `The batch provider failed: ${error.message}`, { type: "server_error" });
  }
  return new ApiError(error.status, error.message, { code: error.code, param: error.param });
}

/**
 * The answer of every line of a batch whose upload or create the provider refused for good. The
 * provider's `param` names a field of our batch request, not of the caller's, so it is left out.
 */
export function refusalAnswer(error: ProviderError, step: "upload" | "create"): StoredAnswer {
  if (refusedCredentials(error)) {
    const refused = credentialsRefused();
    return errorAnswer(refused.status, refused.message, { type: refused.type });
  }
  return errorAnswer(error.status ?? 500, `Batch ${step} was refused: ${error.message}`, {
    code: error.code,
  });
}

/**
 * The answer of every unfinished line of a batch that can no longer be followed at the provider: its
 * checks kept failing, or the provider said something that will never change (404 after a key
 * rotation, 401/403). A refused key is the operator's to fix, and is said so without naming it.
 */
export function untrackedAnswer(error: unknown): StoredAnswer {
  if (error instanceof ProviderError && refusedCredentials(error)) {
    const refused = credentialsRefused();
    return errorAnswer(refused.status, refused.message, { type: refused.type, code: "batch_untracked" });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return errorAnswer(
    502,
    `The batch holding this request could not be followed at the provider: ${reason}.`,
    {
      type: "server_error",
      code: "batch_untracked",
    },
  );
}

/**
 * The provider refused the gateway's own key (401/403). That is the operator's problem, not the
 * caller's: callers get a 502 naming no key, never a 401 that would make them doubt their own key.
 */
const refusedCredentials = (error: ProviderError) => error.status === 401 || error.status === 403;

const credentialsRefused = () =>
  new ApiError(502, "The batch provider refused the gateway's credentials; the operator has been told.", {
    type: "server_error",
  });
