import {
  ApiError,
  adminKeys,
  BATCH_FILTERS,
  type BatchFilter,
  type FlushResult,
  invalidRequest,
  isPlainId,
} from "@batch-gpt/contracts";
import { publishFlush } from "@batch-gpt/queue";
import { Hono } from "hono";
import { cancelBatch } from "../batch-cancel.ts";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";
import { readBody } from "../request-body.ts";
import { shownId } from "../responses.ts";
import { adminBatch } from "./batch-view.ts";
import { batchPage, type FigureSources, overview } from "./figures.ts";
import { dashboardContent, dashboardPage } from "./page.ts";
import { BatchSnapshot } from "./snapshot.ts";
import { traceRequest } from "./trace.ts";

/** Rows per page of the dashboard and the API's default page. */
const PAGE_SIZE = 50;

/**
 * The batch dashboard (`GET /admin`) and the admin API behind it and the CLI (`/admin/api/…`). Admin
 * routes: the auth middleware (auth/) lets only admin keys through. Figures are the whole deployment's:
 * batch records from MongoDB, the collate backlog and the gateways' reports from Redis.
 */
export function adminRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { store, redis, queues } = deps;
  const sources: FigureSources = {
    store,
    redis,
    keys: adminKeys(deps.config.BULL_PREFIX),
    prefix: deps.config.BULL_PREFIX,
  };
  const snapshot = new BatchSnapshot(store);
  snapshot.warm();

  app.get("/", async (c) => {
    const status = parseStatus(c.req.query("status") ?? "active");
    const offset = parseCount(c.req.query("offset"), "offset", 0, 0);
    const read = await snapshot.read();
    const [figures, list] = await Promise.all([
      overview(sources, read.counts),
      batchPage(store, read, status, offset, PAGE_SIZE),
    ]);
    const content = dashboardContent(figures, list);
    c.header("cache-control", "no-store");
    return c.html(c.req.query("fragment") ? content : dashboardPage(content));
  });

  app.get("/api/overview", async (c) => {
    const { counts } = await snapshot.read();
    return c.json(await overview(sources, counts));
  });

  app.get("/api/batches", async (c) => {
    const status = parseStatus(c.req.query("status") ?? "all");
    const limit = parseCount(c.req.query("limit"), "limit", 20, 1, 1000);
    const offset = parseCount(c.req.query("offset"), "offset", 0, 0);
    return c.json(await batchPage(store, await snapshot.read(), status, offset, limit));
  });

  app.get("/api/batches/:id", async (c) => {
    const id = c.req.param("id");
    const record = isPlainId(id) ? await store.batches.summary(id) : null;
    if (!record) throw noBatch(id);
    return c.json(adminBatch(record, await store.batches.lineCount(record._id)));
  });

  app.post("/api/batches/:id/cancel", async (c) => {
    const id = c.req.param("id");
    const found = isPlainId(id) ? await store.batches.summary(id) : null;
    const record = found && (await store.batches.get(found._id));
    if (!record) throw noBatch(id);
    if (!record.providerBatchId) {
      throw new ApiError(
        409,
        `Batch '${id}' is not at the provider yet (state '${record.state}'); nothing to cancel.`,
        {
          shouldRetry: false,
        },
      );
    }
    await cancelBatch(deps, record);
    const after = await store.batches.summary(record._id);
    if (after) snapshot.replace(after);
    return c.json(adminBatch(after ?? record));
  });

  app.post("/api/flush", async (c) => {
    const body = parseObject(await readBody(c, 64 * 1024));
    const model = body.model ?? null;
    if (model !== null && (typeof model !== "string" || model === "")) {
      throw invalidRequest("Invalid 'model': expected a non-empty string or null.", "model", "invalid_type");
    }
    const result: FlushResult = { model, collators: await publishFlush(redis, sources.keys, model) };
    return c.json(result);
  });

  app.get("/api/requests/:id", async (c) => {
    const id = c.req.param("id");
    if (!isPlainId(id))
      throw new ApiError(404, `No request found with id '${shownId(id)}'.`, { param: "id" });
    return c.json(await traceRequest(store, queues, id));
  });

  return app;
}

const noBatch = (id: string) =>
  new ApiError(404, `No batch found with id '${shownId(id)}'.`, { param: "batch_id", code: null });

function parseStatus(value: string): BatchFilter {
  if ((BATCH_FILTERS as readonly string[]).includes(value)) return value as BatchFilter;
  throw invalidRequest(
    `Invalid 'status': expected one of ${BATCH_FILTERS.join(", ")}, but got '${value}' instead.`,
    "status",
    "invalid_value",
  );
}

function parseCount(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max = 1e9,
): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw invalidRequest(
      `Invalid '${name}': expected an integer from ${min} to ${max}, but got '${value}' instead.`,
      name,
      "invalid_value",
    );
  }
  return n;
}

/** The request's JSON object; no body (or an empty one) is `{}`. */
function parseObject(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  throw invalidRequest("The body must be a JSON object.", null, "invalid_json");
}
