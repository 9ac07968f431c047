/** Realtime endpoints: chat completions (optionally streamed), completions, embeddings, responses. */
import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { answer, chatChunks, type Endpoint } from "../answers.ts";
import { type Deps, readJsonObject } from "../deps.ts";
import { invalidRequest } from "../errors.ts";
import type { FaultTarget } from "../faults.ts";

const ROUTES: Array<{ path: string; endpoint: Endpoint; target: FaultTarget }> = [
  { path: "/chat/completions", endpoint: "/v1/chat/completions", target: "chat.completions" },
  { path: "/completions", endpoint: "/v1/completions", target: "completions" },
  { path: "/embeddings", endpoint: "/v1/embeddings", target: "embeddings" },
  { path: "/responses", endpoint: "/v1/responses", target: "responses" },
];

export function realtimeRouter(deps: Deps): Hono {
  const app = new Hono();
  for (const route of ROUTES) {
    app.post(route.path, async (c) => {
      deps.state.counters.realtimeRequests += 1;
      await deps.faults.apply(route.target);
      const body = await readJsonObject(c);
      const stream = body.stream === true;
      if (stream && route.endpoint !== "/v1/chat/completions") {
        throw invalidRequest("The OpenAI emulator streams only /v1/chat/completions.", "stream");
      }
      const a = answer(route.endpoint, body);
      for (const [k, v] of Object.entries(a.headers)) c.header(k, v);
      if (a.status !== 200) {
        return c.json(a.body as object, a.status as ContentfulStatusCode);
      }
      if (stream) return streamChat(c, a.body as Record<string, unknown>, body);
      return c.json(a.body as object);
    });
  }
  return app;
}

function streamChat(c: Context, completion: Record<string, unknown>, request: Record<string, unknown>) {
  const options = request.stream_options as { include_usage?: unknown } | undefined;
  const chunks = chatChunks(completion, options?.include_usage === true);
  c.header("cache-control", "no-cache");
  return streamSSE(c, async (sse) => {
    for (const chunk of chunks) await sse.writeSSE({ data: JSON.stringify(chunk) });
    await sse.writeSSE({ data: "[DONE]" });
  });
}
