import { invalidRequest } from "@batch-gpt/contracts";

/** Limits on a body's JSON, checked before it is parsed (MAX_JSON_DEPTH, MAX_STRING_CHARS). */
export interface JsonLimits {
  maxDepth: number;
  maxStringChars: number;
}

// JSON.rawJSON and the reviver's source text (Node ≥ 21) are not in TypeScript's ES2024 lib.
type Reviver = (key: string, value: unknown, context: { source?: string }) => unknown;
const parseWith = JSON.parse as (text: string, reviver: Reviver) => unknown;
const rawJson = (JSON as unknown as { rawJSON(text: string): object }).rawJSON;

/** Integers beyond 2^53 as written: `JSON.stringify` gives their text back, digit for digit. */
const keepBigIntegers: Reviver = (_key, value, context) =>
  typeof value === "number" &&
  !Number.isSafeInteger(value) &&
  context.source !== undefined &&
  /^-?\d+$/.test(context.source)
    ? rawJson(context.source)
    : value;

/**
 * Parses a request body after one scan of its text, which refuses with OpenAI's 400 what parsing would
 * hide or choke on: a key given twice in one object (grouping would read the parsed value while the
 * provider reads the raw text), nesting deeper than `maxDepth` (deep recursion is a 500 waiting to
 * happen), and strings longer than `maxStringChars`. Integers beyond 2^53 keep their exact digits (as
 * `JSON.rawJSON` values, which serialise as written), so the dedup key and the streamed body see the
 * client's number, not a rounded one. Text that is not JSON is left for `JSON.parse` to refuse.
 */
export function parseJsonBody(text: string, limits: JsonLimits): unknown {
  const bigIntegers = scan(text, limits);
  return bigIntegers ? parseWith(text, keepBigIntegers) : JSON.parse(text);
}

/** Returns whether the text holds an integer too long to be exact as a JavaScript number. */
function scan(text: string, limits: JsonLimits): boolean {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  let bigIntegers = false;
  let nextBackslash = text.indexOf("\\");
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      if (end < 0) return bigIntegers;
      // The next backslash, found afresh only once passed: looking from every string would be quadratic.
      if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = text.indexOf("\\", i);
      const escaped = nextBackslash !== -1 && nextBackslash < end;
      if (end - i - 1 > limits.maxStringChars) {
        const length = escaped ? decoded(text, i, end)?.length : end - i - 1;
        if (length !== undefined && length > limits.maxStringChars) {
          throw invalidRequest(
            `A string in the request body is ${length} characters long; the limit is ${limits.maxStringChars}.`,
            null,
            "string_too_long",
          );
        }
      }
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        const key = escaped ? decoded(text, i, end) : text.slice(i + 1, end);
        if (key === undefined) return bigIntegers;
        if (key === "__proto__" || (open.length === 1 && (key === "constructor" || key === "prototype"))) {
          // Never a field of OpenAI's; a key that can reach an object's prototype in code that copies it.
          throw invalidRequest(`The request body may not use the key '${key}'.`, key, "forbidden_key");
        }
        if (keys.has(key)) {
          throw invalidRequest(
            `The request body gives '${key.slice(0, 100)}' more than once in one object.`,
            key.slice(0, 100),
            "duplicate_key",
          );
        }
        keys.add(key);
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      open.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
      if (open.length > limits.maxDepth) {
        throw invalidRequest(
          `The request body is nested more than ${limits.maxDepth} levels deep.`,
          null,
          "nesting_too_deep",
        );
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = open[open.length - 1] instanceof Set;
    } else if (c === 0x3a /* : */) {
      expectKey = false;
    } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d /* - */) {
      // A number: 16 digits or more may be past 2^53 (the reviver decides which are).
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) j++;
      if (j - i >= 16) bigIntegers = true;
      if (j - i >= 300 || hasExponent(text, i, j)) refuseInfinite(text.slice(i, j));
      i = j;
      continue;
    }
    i++;
  }
  return bigIntegers;
}

const hasExponent = (text: string, from: number, to: number) => {
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x65 || c === 0x45) return true;
  }
  return false;
};

/**
 * A number no JavaScript number can hold (`1e400`) would parse as Infinity and be sent on as written:
 * the cache key and the provider would disagree on it. Integers keep their digits (see above).
 */
function refuseInfinite(token: string): void {
  if (/^-?\d+$/.test(token) || Number.isFinite(Number(token))) return;
  throw invalidRequest(
    `The number ${token.slice(0, 40)} in the request body is out of range.`,
    null,
    "number_out_of_range",
  );
}

const isNumberChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;

/** The index of the quote closing the string opened at `start`, or -1 when it is not closed. */
function stringEnd(text: string, start: number): number {
  let at = start;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

/** The string token's value, or undefined when it is not valid JSON (parsing will say so). */
function decoded(text: string, start: number, end: number): string | undefined {
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return undefined;
  }
}
