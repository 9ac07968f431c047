import { ENDPOINTS, type Endpoint } from "@batch-gpt/contracts";
import { type Context, Hono } from "hono";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";
import { callerSignal } from "../request-body.ts";
import { readIntakeRequest } from "../request-shape.ts";
import { cachedResponse, outcomeResponse, pendingObject } from "../responses.ts";
import { streamCached, streamWhenReady } from "../streaming.ts";

/**
 * The OpenAI endpoints we batch: POST answers sync (held), async (202 + id) or from cache only;
 * GET /:id fetches an async call's answer.
 */
export function endpointRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { intake } = deps;

  const create = (endpoint: Endpoint) => async (c: Context<GatewayEnv>) => {
    const req = await readIntakeRequest(c, endpoint, deps);
    const result = await intake.submit(req);
    switch (result.kind) {
      case "cached":
        return req.stream ? streamCached(c, req, result.body) : cachedResponse(c, result.body);
      case "accepted":
        c.header("x-batch-cache", "miss");
        return c.json(pendingObject({ ...result.call, endpoint }, "queued"), 202);
      case "pending":
        if (req.stream) return streamWhenReady(c, deps, req, result);
        // Also on the 503 a caller gets when the request is lost or this gateway stops.
        c.header("x-batch-cache", "miss");
        return outcomeResponse(c, await intake.wait(result, callerSignal(c)));
    }
  };

  const retrieve = (endpoint: Endpoint | null) => async (c: Context<GatewayEnv>) => {
    const id = c.req.param("id") ?? "";
    const found = await intake.retrieve(id, deps.tenantOf(c.req.header("authorization")), endpoint);
    if (found.kind === "finished") return outcomeResponse(c, found.outcome);
    return c.json(pendingObject(found.call, found.state), 202);
  };

  for (const endpoint of ENDPOINTS) {
    const path = endpoint.slice("/v1".length);
    app.post(path, create(endpoint));
    app.get(`${path}/:id`, retrieve(endpoint));
  }
  app.get("/requests/:id", retrieve(null));
  return app;
}
