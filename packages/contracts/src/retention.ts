import { errorAnswer } from "./errors.ts";
import type { StoredAnswer } from "./records.ts";

/**
 * Retention and erasure: what a finished request keeps once its stored prompt or answer is gone. The
 * request and its outcome documents stay (state, usage, times: accounting and tracing); only the text a
 * caller sent or received is dropped. An async caller fetching a dropped answer gets one of these
 * OpenAI error bodies, never a hang or "pending".
 */

/** The answer of a request whose answer outlived RETAIN_ANSWERS_DAYS. */
export const expiredAnswer = (days: number): StoredAnswer =>
  errorAnswer(404, `This answer is no longer kept: answers are kept ${days} day(s) after they finished.`, {
    code: "answer_expired",
  });

/** The answer of a request an operator erased (`POST /admin/api/requests/{id}/erase`, or its tenant's). */
export const erasedAnswer = (): StoredAnswer =>
  errorAnswer(404, "This answer was erased by the deployment's operator.", { code: "answer_erased" });

/** What an erase did (`POST /admin/api/requests/{id}/erase`, `POST /admin/api/tenants/{name}/erase`). */
export interface ErasureResult {
  object: "erasure";
  /** The request (its id, even when it was named by an async call id), or null for a tenant's erase. */
  request: string | null;
  /** The tenant whose data was erased, or null for one request's erase. */
  tenant: string | null;
  /** Finished requests whose body and answer were erased. */
  requests: number;
  /** Unfinished requests left as they are (their body is still to be sent): erase again once they finish. */
  pending: number;
  /** Cache entries deleted (with their Redis copies). */
  cacheEntries: number;
  /** Async call records deleted (a tenant's erase only). */
  calls: number;
}
