/**
 * Reading text out of request bodies: the "marker text" (last user message / prompt / input) that the
 * deterministic answer echoes and that fail markers are looked for in, and the token formula.
 */

/** tokens(text) = ceil(characters / 4), characters being JavaScript string length (UTF-16 code units). */
export function tokens(text: string): number {
  return Math.ceil(text.length / 4);
}

const FAIL_MARKER = /\[\[fail:(\d{3})\]\]/;

/** The status of the first `[[fail:NNN]]` marker in the text, if any (4xx/5xx only). */
export function failMarker(text: string): number | undefined {
  const m = FAIL_MARKER.exec(text);
  if (!m?.[1]) return undefined;
  const status = Number(m[1]);
  return status >= 400 && status <= 599 ? status : undefined;
}

/**
 * `[[invalid-line]]`: a request OpenAI's batch validation refuses by line (as it does a body it cannot
 * run): the batch fails naming that line. Realtime, the same body is a 400.
 */
export const INVALID_LINE_MARKER = "[[invalid-line]]";

export const hasInvalidLineMarker = (text: string) => text.includes(INVALID_LINE_MARKER);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Text of a message's content: a string, or the concatenated `text` of its text parts. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let out = "";
  for (const part of content) {
    if (typeof part === "string") out += part;
    else if (isRecord(part) && typeof part.text === "string") out += part.text;
  }
  return out;
}

/** Chat: text of the last message whose role is `user`, or "" when there is none. */
export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (isRecord(m) && m.role === "user") return contentText(m.content);
  }
  return "";
}

/** Chat / responses: all text of all messages, concatenated (the "text in" of the usage formula). */
export function allMessagesText(messages: unknown): string {
  if (typeof messages === "string") return messages;
  if (!Array.isArray(messages)) return "";
  let out = "";
  for (const m of messages) {
    if (isRecord(m)) out += contentText(m.content);
    else if (typeof m === "string") out += m;
  }
  return out;
}

/** Responses: input text — a string input, or the text of the last user message of an item list. */
export function responsesInputText(input: unknown): string {
  if (typeof input === "string") return input;
  return lastUserText(input);
}

/** Completions: the prompt as text (a list of strings is joined with no separator). */
export function promptText(prompt: unknown): string {
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt) && prompt.every((p) => typeof p === "string")) return prompt.join("");
  return "";
}
