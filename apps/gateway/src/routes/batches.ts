import { ApiError, type BatchSummary, invalidRequest, isPlainId } from "@batch-gpt/contracts";
import { Hono } from "hono";
import { batchObject, cancelBatch } from "../batch-cancel.ts";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";
import { shownId } from "../responses.ts";

/**
 * OpenAI's batch management API over the batches we submitted: list, retrieve, cancel. Ids are the
 * provider's batch ids (users can cross-check them in OpenAI's dashboard); the objects are the
 * provider's own Batch objects as last seen, with our record id in `metadata.batch_gpt_record`.
 */
export function batchRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { store } = deps;

  app.get("/batches", async (c) => {
    const limit = parseLimit(c.req.query("limit"));
    const after = c.req.query("after") || undefined;
    if (after !== undefined && !isPlainId(after)) throw invalidRequest("'after' is not a batch id.", "after");
    const status = c.req.query("status") || undefined;
    if (status !== undefined && !/^[a-z_]{1,32}$/.test(status))
      throw invalidRequest("Unknown 'status'.", "status");
    const { records, hasMore } = await store.batches.list({ limit, after, status });
    const data = records.map(batchObject);
    return c.json({
      object: "list",
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: hasMore,
    });
  });

  app.get("/batches/:id", async (c) => {
    const record = await findBatch(c.req.param("id"));
    return c.json(batchObject(record));
  });

  app.post("/batches/:id/cancel", async (c) => {
    const record = await findBatch(c.req.param("id"));
    return c.json(await cancelBatch(deps, record));
  });

  async function findBatch(id: string): Promise<BatchSummary> {
    const record = isPlainId(id) ? await store.batches.findByProviderId(id) : null;
    if (!record?.providerBatch) {
      throw new ApiError(404, `No batch found with id '${shownId(id)}'.`, { param: "batch_id", code: null });
    }
    return record;
  }

  return app;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined || value === "") return 20;
  if (!/^-?\d+$/.test(value)) {
    throw invalidRequest(
      `Invalid 'limit': expected an integer, but got '${value}' instead.`,
      "limit",
      "invalid_type",
    );
  }
  const limit = Number(value);
  if (limit < 1) {
    throw invalidRequest(
      `Invalid 'limit': integer below minimum value. Expected a value >= 1, but got ${limit} instead.`,
      "limit",
      "integer_below_min_value",
    );
  }
  if (limit > 100) {
    throw invalidRequest(
      `Invalid 'limit': integer above maximum value. Expected a value <= 100, but got ${limit} instead.`,
      "limit",
      "integer_above_max_value",
    );
  }
  return limit;
}
