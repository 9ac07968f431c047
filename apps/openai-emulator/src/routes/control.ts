/**
 * The control API under `/_emulator/` (no auth): queue faults, force the next batch's outcome, expire a
 * batch now, and read counters so tests can count batches and lines.
 */
import { Hono } from "hono";
import type { ZodType } from "zod";
import { type Deps, readJsonObject } from "../deps.ts";
import { invalidRequest } from "../errors.ts";
import { faultSchema, nextBatchSchema } from "../faults.ts";

function parse<T>(schema: ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.join(".") || null;
    throw invalidRequest(`Invalid control request${path ? ` at '${path}'` : ""}: ${issue?.message}`, path);
  }
  return result.data;
}

export function controlRouter(deps: Deps): Hono {
  const { state, engine, faults } = deps;
  const app = new Hono();

  app.post("/faults", async (c) => {
    const spec = parse(faultSchema, await readJsonObject(c));
    faults.add(spec);
    return c.json({ ok: true, pending: faults.pending() });
  });

  app.get("/faults", (c) => c.json({ pending: faults.pending() }));

  app.delete("/faults", (c) => {
    faults.clear();
    return c.json({ ok: true });
  });

  app.post("/next-batch", async (c) => {
    const next = parse(nextBatchSchema, await readJsonObject(c));
    faults.setNextBatch(next);
    return c.json({ ok: true, next });
  });

  app.post("/batches/:id/expire", async (c) => {
    const text = await c.req.text();
    let completeLines: number | undefined;
    if (text.trim() !== "") {
      const body = JSON.parse(text) as { completeLines?: unknown };
      if (body.completeLines !== undefined) {
        if (
          typeof body.completeLines !== "number" ||
          !Number.isInteger(body.completeLines) ||
          body.completeLines < 0
        ) {
          throw invalidRequest("completeLines must be a non-negative integer.", "completeLines");
        }
        completeLines = body.completeLines;
      }
    }
    return c.json(await engine.expireNow(c.req.param("id"), completeLines));
  });

  app.get("/stats", async (c) => {
    const batches = await engine.list();
    return c.json({
      ...state.counters,
      batches: batches.reverse().map((b) => {
        const internal = state.batches.get(b.id)?.internal;
        return {
          id: b.id,
          endpoint: b.endpoint,
          model: internal?.model ?? b.model,
          lines: internal?.lines ?? 0,
          status: b.status,
          metadata: b.metadata,
        };
      }),
    });
  });

  return app;
}
