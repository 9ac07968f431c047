import { createHash } from "node:crypto";
import { envKeyIdentity } from "@batch-gpt/contracts";

/** The request bodies of the bench: small chat completions, distinct by a tag and an index. */
export const MODEL = "gpt-4o-mini";
export const CHAT_PATH = "/v1/chat/completions";

export const chatText = (tag: string, i: number) => `bench ${tag} #${i}: what is ${i} plus one?`;

export const chatBody = (tag: string, i: number) =>
  JSON.stringify({ model: MODEL, messages: [{ role: "user", content: chatText(tag, i) }] });

/** A tag no earlier run used, so bodies are distinct across runs and never hit an older cache entry. */
export const freshTag = (what: string) =>
  `${what}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

const FILLER = "The quick brown fox jumps over the lazy dog. ";

/** A chat completion body of about `bytes` bytes (its message padded with filler text), distinct by tag and index. */
export function paddedChatBody(tag: string, i: number, bytes: number): string {
  const text = chatText(tag, i);
  const bare = chatBody(tag, i).length;
  const pad = Math.max(0, bytes - bare - 1);
  const filler = FILLER.repeat(Math.ceil(pad / FILLER.length)).slice(0, pad);
  return JSON.stringify({ model: MODEL, messages: [{ role: "user", content: `${text} ${filler}` }] });
}

/**
 * The bench runs with client keys and quotas on, as a deployment would: every request carries this
 * client key (GATEWAY_API_KEYS of the bench's stacks), whose quotas are set far above the load.
 */
export const BENCH_KEY = "sk-bench-client-key";
export const AUTH_HEADERS = { authorization: `Bearer ${BENCH_KEY}` } as const;
/** The tenant of BENCH_KEY: what seeded history and records are stored under. */
export const BENCH_TENANT = envKeyIdentity(
  createHash("sha256").update(BENCH_KEY).digest("hex"),
  "client",
).tenant;
