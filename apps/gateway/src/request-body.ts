import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError } from "@batch-gpt/contracts";
import type { Context } from "hono";
import type { GatewayEnv } from "./deps.ts";

/**
 * Reading a request's body and noticing its caller leave, straight from Node's request and response
 * when the app runs on @hono/node-server. Asking Hono for `c.req.raw.body` (as its body-limit middleware
 * does) builds a whole fetch `Request` with a stream per call: measurable time per request, and memory
 * per held caller. Without Node's objects (an app driven by `app.request`) the standard ones serve.
 */

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}
export const nodeOf = (c: Context<GatewayEnv>) => (c.env ?? {}) as NodeBindings;

const tooLarge = (maxBytes: number) =>
  new ApiError(413, `Request body is larger than the limit of ${maxBytes} bytes.`, {
    code: "request_too_large",
  });

const notUtf8 = () =>
  new ApiError(400, "We could not parse the JSON body of your request: it is not valid UTF-8.", {
    code: "invalid_utf8",
  });

// Fatal: invalid UTF-8 is refused, never turned into U+FFFD (which would change the text, and triple
// its size: 6 MB of 0xFF bytes are 18 MB of text).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The body as text: refused with 413 past `maxBytes`, and with 400 when it is not valid UTF-8. */
export async function readBody(c: Context<GatewayEnv>, maxBytes: number): Promise<string> {
  const declared = Number(c.req.header("content-length"));
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const { incoming } = nodeOf(c);
  const bytes = incoming ? await readIncoming(incoming, maxBytes) : new Uint8Array(await c.req.arrayBuffer());
  if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  try {
    return utf8.decode(bytes);
  } catch {
    throw notUtf8();
  }
}

function readIncoming(incoming: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        // Read no more of it: the 413 goes out and the connection closes after it.
        incoming.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
    };
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
  });
}

/**
 * Runs `gone` when the caller goes away before its response was sent: one listener, where
 * `callerSignal` also makes an AbortController (for code that takes a signal).
 */
export function onCallerGone(c: Context<GatewayEnv>, gone: () => void): void {
  const { outgoing } = nodeOf(c);
  if (!outgoing) {
    c.req.raw.signal.addEventListener("abort", gone, { once: true });
    return;
  }
  outgoing.once("close", () => {
    if (!outgoing.writableFinished) gone();
  });
}

/** Aborts when the caller goes away before its response was sent. */
export function callerSignal(c: Context<GatewayEnv>): AbortSignal {
  const { outgoing } = nodeOf(c);
  if (!outgoing) return c.req.raw.signal;
  const gone = new AbortController();
  outgoing.once("close", () => {
    if (!outgoing.writableFinished) gone.abort();
  });
  return gone.signal;
}
