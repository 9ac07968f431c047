/** Builds the emulator's Hono app and its state without listening (the composition root). */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { bearerAuth } from "./auth.ts";
import { BatchEngine } from "./batch-engine.ts";
import type { Deps } from "./deps.ts";
import { ApiError } from "./errors.ts";
import { type FaultSpec, Faults } from "./faults.ts";
import { newId } from "./ids.ts";
import { batchesRouter } from "./routes/batches.ts";
import { controlRouter } from "./routes/control.ts";
import { filesRouter } from "./routes/files.ts";
import { realtimeRouter } from "./routes/realtime.ts";
import { EmulatorState } from "./state.ts";

/** 200 MB: OpenAI's limit for a batch input file. */
export const DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024;

export interface EmulatorOptions {
  /** Time from create to completed for a batch (default 3000). */
  batchDurationMs?: number;
  /** Accepted bearer keys; when empty or unset any non-empty key is accepted. */
  apiKeys?: string[];
  /** Persist state (records + file bytes) there; when unset state lives in a temp dir removed on close. */
  stateDir?: string;
  /** Faults queued at start (the env's EMULATOR_FAIL_* map to these). */
  faults?: FaultSpec[];
  /** Largest accepted upload in bytes (default 200 MB). */
  maxUploadBytes?: number;
}

export interface EmulatorApp {
  app: Hono;
  state: EmulatorState;
  engine: BatchEngine;
  faults: Faults;
  close(): Promise<void>;
}

export function createEmulatorApp(opts: EmulatorOptions = {}): EmulatorApp {
  const state = new EmulatorState(opts.stateDir);
  const faults = new Faults();
  for (const f of opts.faults ?? []) faults.add(f);
  const engine = new BatchEngine(state, faults, opts.batchDurationMs ?? 3000);
  const deps: Deps = {
    state,
    engine,
    faults,
    maxUploadBytes: opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
  };

  const app = new Hono();
  app.use("*", async (c, next) => {
    const id = newId.request();
    await next();
    c.res.headers.set("x-request-id", id);
    c.res.headers.set("openai-version", "2020-10-01");
  });
  app.use("/v1/*", bearerAuth(opts.apiKeys));
  app.route("/v1/files", filesRouter(deps));
  app.route("/v1/batches", batchesRouter(deps));
  app.route("/v1", realtimeRouter(deps));
  app.route("/_emulator", controlRouter(deps));
  app.get("/healthz", (c) => c.json({ ok: true }));

  app.notFound((c) =>
    c.json(new ApiError(404, `Invalid URL (${c.req.method} ${new URL(c.req.url).pathname})`).body(), 404),
  );
  app.onError((err, c) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json(err.body(), err.status as ContentfulStatusCode);
    }
    console.error("openai-emulator: unexpected error", err);
    const body = new ApiError(
      500,
      "The server had an error while processing your request. Sorry about that!",
      {
        type: "server_error",
      },
    ).body();
    return c.json(body, 500);
  });

  engine.resume();
  return {
    app,
    state,
    engine,
    faults,
    async close() {
      faults.close();
      await engine.close();
      await state.close();
    },
  };
}
