import { ENDPOINTS, type Endpoint } from "@batch-gpt/contracts";
import { type Context, Hono } from "hono";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";
import type { IntakeRequest } from "../intake.ts";
import { callerSignal } from "../request-body.ts";
import { readIntakeRequest } from "../request-shape.ts";
import {
  acceptedResponse,
  cachedResponse,
  headerForAll,
  outcomeResponse,
  pendingObject,
} from "../responses.ts";
import { streamCached, streamWhenReady } from "../streaming.ts";

/**
 * The OpenAI endpoints we batch: POST answers sync (held), async (202 + id) or from cache only;
 * GET /:id fetches an async call's answer.
 */
export function endpointRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { intake, quotas } = deps;
  const asyncLeaseMs = deps.config.QUOTA_ASYNC_PENDING_SECONDS * 1000;

  const create = (endpoint: Endpoint) => async (c: Context<GatewayEnv>) => {
    const req = await readIntakeRequest(c, endpoint, deps);
    const caller = c.get("caller");
    const looked = await intake.lookup(req);
    if (looked.hot !== null) {
      // Answered as it is admitted: the quotas are checked and counted, and no place is held.
      await quotas.admitAnswered(caller);
      const result = await intake.submit(req, looked);
      if (result.kind === "cached") return delivered(c, req, result.body);
    }
    // A place among the key's pending requests: a held caller's until it is answered, an async
    // call's until its answer is fetched (under the call's id).
    const lease = await quotas.admit(
      caller,
      req.callId ? { held: false, id: req.callId, ttlMs: asyncLeaseMs } : { held: true },
    );
    let result: Awaited<ReturnType<typeof intake.submit>>;
    try {
      result = await intake.submit(req, looked);
    } catch (err) {
      await lease.release();
      throw err;
    }
    switch (result.kind) {
      case "cached":
        await lease.release();
        return delivered(c, req, result.body);
      case "accepted":
        return acceptedResponse(c, pendingObject({ ...result.call, endpoint }, "queued"));
      case "pending": {
        const pending = { ...result, onSettled: lease.release };
        if (req.stream) return streamWhenReady(c, deps, req, pending);
        // Also on the 503 a caller gets when the request is lost or this gateway stops.
        headerForAll(c, "x-batch-cache", "miss");
        // Returned, not awaited: while the caller is held, this function's frame (the request, its
        // body) is not kept alive with it.
        return intake.wait(pending, callerSignal(c)).then((outcome) => outcomeResponse(c, outcome));
      }
    }
  };

  const delivered = (c: Context<GatewayEnv>, req: IntakeRequest, body: string) =>
    req.stream ? streamCached(c, req, body) : cachedResponse(c, body);

  const retrieve = (endpoint: Endpoint | null) => async (c: Context<GatewayEnv>) => {
    const id = c.req.param("id") ?? "";
    let freed: Promise<void> | undefined;
    const found = await intake.retrieve(id, c.get("caller").tenant, endpoint, (call) => {
      // Answered (or found lost): the call's place among its key's pending requests is free.
      if (call.keyId) freed = quotas.free(call.keyId, call._id);
    });
    await freed;
    if (found.kind === "finished") return outcomeResponse(c, found.outcome);
    return c.json(pendingObject(found.call, found.state), 202);
  };

  for (const endpoint of ENDPOINTS) {
    const path = endpoint.slice("/v1".length);
    app.post(path, deps.meter.route(endpoint, create(endpoint)));
    app.get(`${path}/:id`, retrieve(endpoint));
  }
  app.get("/requests/:id", retrieve(null));
  return app;
}
