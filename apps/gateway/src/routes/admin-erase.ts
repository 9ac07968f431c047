import {
  ApiError,
  type ErasureResult,
  erasedAnswer,
  invalidRequest,
  isPlainId,
  redisKeys,
} from "@batch-gpt/contracts";
import { forgetCopies } from "@batch-gpt/queue";
import { Hono } from "hono";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";
import { shownId } from "../responses.ts";

/**
 * Operators' erasure (admin only, as every /admin route): one request's stored prompt and answer, or
 * everything of one tenant (a key's data is its tenant's: keys made with one name share it). What
 * stays: the request and outcome documents without their text (state, usage, times), for accounting
 * and tracing. Redis's copies (the answer, the cache tier and its marker, async calls) go with them, so
 * an identical request afterwards is a miss, never answered from what was erased.
 */
export function adminEraseRoutes(deps: Pick<GatewayDeps, "store" | "redis" | "config">): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { store, redis } = deps;
  const keys = redisKeys(deps.config.BULL_PREFIX);

  app.post("/requests/:id/erase", async (c) => {
    const id = c.req.param("id");
    if (!isPlainId(id)) throw noRequest(id);
    // An async call's id names the request answering it (as the trace does).
    const call = id.startsWith("req_") ? null : await store.calls.get(id);
    const requestId = call?.requestId ?? id;
    const erased = await store.retention.eraseRequest(requestId, erasedAnswer());
    if (!erased) throw noRequest(id);
    if (erased.pending > 0) {
      throw new ApiError(409, `Request '${requestId}' has not finished yet; erase it once it has.`, {
        code: "request_unfinished",
        shouldRetry: false,
      });
    }
    await forgetCopies(redis, keys, erased.removed);
    const { removed: _, ...counts } = erased;
    const result: ErasureResult = { object: "erasure", request: requestId, tenant: null, ...counts };
    return c.json(result);
  });

  app.post("/tenants/:name/erase", async (c) => {
    const name = c.req.param("name");
    if (!isPlainId(name)) {
      throw invalidRequest(`Invalid tenant name '${shownId(name)}'.`, "name", "invalid_value");
    }
    const counts = await store.retention.eraseTenant(name, erasedAnswer(), (removed) =>
      forgetCopies(redis, keys, removed),
    );
    const result: ErasureResult = { object: "erasure", request: null, tenant: name, ...counts };
    return c.json(result);
  });

  return app;
}

const noRequest = (id: string) =>
  new ApiError(404, `No request found with id '${shownId(id)}'.`, { param: "id", code: null });
