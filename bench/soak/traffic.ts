/**
 * The soak's callers: requests of the four endpoints in every mode, each with the answer it must get
 * (the emulator answers deterministically), sent over plain HTTP on loopback, and a ledger of what each
 * caller got. A "tag" names one distinct body: the provider must execute it at most once, however many
 * callers sent it (identical callers attach to one line; later ones are cache hits).
 */
import { Agent, request } from "node:http";

export const ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/responses",
  "/v1/embeddings",
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export type Mode = "sync" | "async" | "stream" | "cache";

/** What one caller did and got. */
export interface CallRecord {
  n: number;
  tag: string;
  endpoint: Endpoint;
  mode: Mode;
  /** A body carrying the emulator's fail marker: its answer is OpenAI's 400, from its batch line. */
  failing: boolean;
  /** Cache mode for a body answered before (a hit is due) or never sent (a miss is due). */
  cacheExpect?: "hit" | "miss";
  outcome:
    | "pending"
    | "answered" // the answer it must get
    | "error-answer" // the batch line's own error, as due for a failing body
    | "cache-miss" // 404 cache_miss for a body never sent
    | "unavailable" // 503 service_unavailable while Redis restarted (a legitimate refusal at intake)
    | "queue-full" // 429 queue_full: admission control's bound on what waits for a collator
    | "wrong" // an answer that is not its own, or a failure nobody should get
    | "lost"; // no answer by the end of the drain
  status?: number;
  detail?: string;
  /** The gateway's request id (x-request-id) or the async call id. */
  id?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1000 });

export const textOf = (tag: string) => `soak ${tag}: what comes after ${tag.length}?`;

export function bodyOf(endpoint: Endpoint, tag: string, failing: boolean, stream: boolean): string {
  const text = failing ? `${textOf(tag)} [[fail:400]]` : textOf(tag);
  switch (endpoint) {
    case "/v1/chat/completions":
      return JSON.stringify({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: text }],
        ...(stream ? { stream: true } : {}),
      });
    case "/v1/completions":
      return JSON.stringify({
        model: "gpt-3.5-turbo-instruct",
        prompt: text,
        ...(stream ? { stream: true } : {}),
      });
    case "/v1/responses":
      return JSON.stringify({ model: "gpt-4o-mini", input: text, ...(stream ? { stream: true } : {}) });
    case "/v1/embeddings":
      return JSON.stringify({ model: "text-embedding-3-small", input: text });
  }
}

type Json = Record<string, unknown>;
const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Json)[k as string] : undefined), value);

/** Whether `body` (a plain answer) is the one `tag` must get on `endpoint`. */
export function isAnswerOf(endpoint: Endpoint, tag: string, body: unknown): boolean {
  const expected = `echo: ${textOf(tag)}`;
  switch (endpoint) {
    case "/v1/chat/completions":
      return at(body, "choices", 0, "message", "content") === expected;
    case "/v1/completions":
      return at(body, "choices", 0, "text") === expected;
    case "/v1/responses": {
      const output = at(body, "output");
      const message = Array.isArray(output) ? output.find((o) => at(o, "type") === "message") : undefined;
      return at(message, "content", 0, "text") === expected;
    }
    case "/v1/embeddings": {
      const vector = at(body, "data", 0, "embedding");
      return at(body, "model") === "text-embedding-3-small" && Array.isArray(vector) && vector.length === 8;
    }
  }
}

/** The text a streamed answer spells out (chat and completions deltas, or the response's text deltas). */
export function streamedText(
  endpoint: Endpoint,
  sse: string,
): { text: string; done: boolean; error?: string } {
  let text = "";
  let done = false;
  let error: string | undefined;
  for (const line of sse.split("\n")) {
    if (!line.startsWith("data: ")) continue;
    const data = line.slice(6);
    if (data === "[DONE]") {
      done = true;
      continue;
    }
    let event: Json;
    try {
      event = JSON.parse(data) as Json;
    } catch {
      continue;
    }
    if (event.error || event.type === "error") error = JSON.stringify(event.error ?? event);
    if (endpoint === "/v1/chat/completions")
      text += (at(event, "choices", 0, "delta", "content") as string) ?? "";
    else if (endpoint === "/v1/completions") text += (at(event, "choices", 0, "text") as string) ?? "";
    else if (event.type === "response.output_text.delta") text += (event.delta as string) ?? "";
    else if (event.type === "response.completed") done = true;
  }
  return { text, done, ...(error ? { error } : {}) };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP exchange on loopback, without any timeout of its own (a held caller may wait minutes). */
export function http(
  method: "GET" | "POST",
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: { ...(body ? { "content-type": "application/json" } : {}), ...headers },
        signal,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(parts).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export const errorCode = (text: string): string | undefined => {
  try {
    const code = at(JSON.parse(text), "error", "code");
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
};

/** Whether `text` is OpenAI's error body (`{"error":{"message","type",…}}`). */
export function isOpenAIError(text: string): boolean {
  try {
    const error = at(JSON.parse(text), "error");
    return typeof at(error, "message") === "string" && typeof at(error, "type") === "string";
  } catch {
    return false;
  }
}

/**
 * Runs one caller to its end: its answer (held, streamed, fetched later by id, or from the cache), or
 * the failure it got, judged against what it must get. `stop` aborts a caller still waiting (lost).
 */
export async function call(gateway: string, rec: CallRecord, stop: AbortSignal): Promise<void> {
  const stream = rec.mode === "stream";
  const body = bodyOf(rec.endpoint, rec.tag, rec.failing, stream);
  const mode = stream ? "sync" : rec.mode;
  try {
    const res = await http("POST", `${gateway}${rec.endpoint}`, body, { "x-batch-mode": mode }, stop);
    rec.status = res.status;
    rec.id = String(res.headers["x-request-id"] ?? "");
    if (res.status === 503 && errorCode(res.text) === "service_unavailable") {
      rec.outcome = "unavailable";
      return;
    }
    if (res.status === 429 && errorCode(res.text) === "queue_full") {
      rec.outcome = "queue-full";
      return;
    }
    if (rec.mode === "async") {
      if (res.status !== 202) return judge(rec, res.status, res.text);
      const id = JSON.parse(res.text).id as string;
      rec.id = id;
      // Fetched by id until it is there; a 503 while Redis restarts is asked again.
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        stop.throwIfAborted();
        const got = await http("GET", `${gateway}${rec.endpoint}/${id}`, undefined, {}, stop);
        if (got.status === 202 || got.status === 503) continue;
        return judge(rec, got.status, got.text);
      }
    }
    if (stream && res.status === 200 && String(res.headers["content-type"]).includes("text/event-stream")) {
      const { text, done, error } = streamedText(rec.endpoint, res.text);
      if (error) return judge(rec, 200, error, true);
      if (done && text === `echo: ${textOf(rec.tag)}`) rec.outcome = "answered";
      else Object.assign(rec, { outcome: "wrong", detail: `stream: ${text.slice(0, 120)} (done: ${done})` });
      return;
    }
    judge(rec, res.status, res.text);
  } catch (err) {
    if (stop.aborted) rec.outcome = "lost";
    else Object.assign(rec, { outcome: "wrong", detail: `transport: ${(err as Error).message}` });
  }
}

function judge(rec: CallRecord, status: number, text: string, streamedError = false): void {
  rec.status = status;
  if (rec.failing) {
    // The fail marker's line answers 400 with OpenAI's error body (in the stream: an error event).
    const ok = (status === 400 || streamedError) && (streamedError || isOpenAIError(text));
    rec.outcome = ok ? "error-answer" : "wrong";
    if (!ok) rec.detail = text.slice(0, 200);
    return;
  }
  if (rec.mode === "cache" && status === 404 && errorCode(text) === "cache_miss") {
    rec.outcome = rec.cacheExpect === "miss" ? "cache-miss" : "wrong";
    if (rec.cacheExpect !== "miss") rec.detail = "cache_miss for a body answered before";
    return;
  }
  if (status === 200) {
    try {
      if (isAnswerOf(rec.endpoint, rec.tag, JSON.parse(text))) {
        rec.outcome = "answered";
        return;
      }
    } catch {
      // not JSON: wrong
    }
  }
  rec.outcome = "wrong";
  rec.detail = `${status} ${text.slice(0, 200)}`;
}
