import { createHash } from "node:crypto";

/** JSON with object keys sorted at every depth, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  // A number kept as written (an integer beyond 2^53, see the gateway's json-body.ts) serialises as such.
  if (value === null || typeof value !== "object" || isRawJson(value)) return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** Fields that change how an answer is delivered, not what it is: left out of the request's identity. */
const DELIVERY_FIELDS = new Set(["stream", "stream_options"]);

/**
 * The identity of a request: owner scope + endpoint + body without delivery fields. It is both the
 * cache key and the in-flight dedup key. The scope keeps one client's cache from answering another.
 */
export function requestKey(scope: string, endpoint: string, body: Record<string, unknown>): string {
  const content = Object.fromEntries(Object.entries(body).filter(([k]) => !DELIVERY_FIELDS.has(k)));
  return createHash("sha256")
    .update(canonicalJson({ scope, endpoint, body: content }))
    .digest("hex");
}

const isRawJson = (JSON as { isRawJSON?: (value: unknown) => boolean }).isRawJSON ?? (() => false);
