import { hash } from "node:crypto";

/** JSON with object keys sorted at every depth, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return canonical(value, null);
}

/**
 * Written with plain loops and string appends: it runs for every request the gateway takes, and the
 * arrays and closures of `entries().filter().sort().map().join()` were a measurable share of its time.
 * The text is the same, byte for byte (stored keys depend on it: canonical.test.ts pins it).
 * `skip`: top-level keys left out.
 */
function canonical(value: unknown, skip: ReadonlySet<string> | null): string {
  // A number kept as written (an integer beyond 2^53, see the gateway's json-body.ts) serialises as such.
  if (value === null || typeof value !== "object" || isRawJson(value)) return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // A hole stays empty, as `map` then `join` leave it.
      if (i in value) out += canonical(value[i], null);
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // The default sort orders strings by UTF-16 code units, as `<` does.
  const keys = Object.keys(object).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const item = object[key];
    if (item === undefined || skip?.has(key)) continue;
    if (!first) out += ",";
    first = false;
    out += `${JSON.stringify(key)}:${canonical(item, null)}`;
  }
  return `${out}}`;
}

/** Fields that change how an answer is delivered, not what it is: left out of the request's identity. */
const DELIVERY_FIELDS: ReadonlySet<string> = new Set(["stream", "stream_options"]);

/**
 * The identity of a request: owner scope + endpoint + body without delivery fields. It is both the
 * cache key and the in-flight dedup key. The scope keeps one client's cache from answering another.
 * The digest of `canonicalJson({ scope, endpoint, body })` (the body without its delivery fields),
 * written here without building that object: its keys in order are body, endpoint, scope.
 */
export function requestKey(scope: string, endpoint: string, body: Record<string, unknown>): string {
  const text = `{"body":${canonical(body, DELIVERY_FIELDS)},"endpoint":${JSON.stringify(endpoint)},"scope":${JSON.stringify(scope)}}`;
  return hash("sha256", text, "hex");
}

const isRawJson = (JSON as { isRawJSON?: (value: unknown) => boolean }).isRawJSON ?? (() => false);
