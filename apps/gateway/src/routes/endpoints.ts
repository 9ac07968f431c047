import {
  ApiError,
  ENDPOINTS,
  type Endpoint,
  invalidRequest,
  PENDING_FIELDS,
  PENDING_OBJECT,
  type RequestRecord,
} from "@batch-gpt/contracts";
import { type Context, Hono } from "hono";
import { cachedAnswer, lostRequest, recordAnswer, shuttingDown } from "../answers.ts";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";
import { servingMode } from "../serving-mode.ts";
import { assertStreamable, batchableBody, streamCached, streamWhenReady } from "../streaming.ts";
import { parseRequestBody } from "../validate.ts";

/**
 * The OpenAI endpoints we batch: POST answers sync (held), async (202 + id) or from cache only;
 * GET /:id fetches an async call's answer.
 */
export function endpointRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { config, store, intake, waiters, inflight } = deps;

  const create = (endpoint: Endpoint) => async (c: Context<GatewayEnv>) => {
    const raw = await c.req.text();
    const body = parseRequestBody(endpoint, raw);
    const mode = servingMode(c.req.header("x-batch-mode"), config.CLIENT_SERVING_MODE);
    if (body.stream === true && mode === "async") {
      throw invalidRequest(
        "'stream: true' cannot be combined with async mode: fetch the answer by id instead.",
        "stream",
      );
    }
    if (body.stream === true) assertStreamable(endpoint);
    const req = {
      endpoint,
      owner: deps.ownerOf(c.req.header("authorization")),
      raw: body.stream === true ? batchableBody(body) : raw,
      body,
      traceId: c.get("requestId"),
    };
    const key = intake.key(req);

    if (!/no-cache/i.test(c.req.header("cache-control") ?? "")) {
      // Redis knows whether the cache has an answer; MongoDB is read only for a likely hit.
      const hit = (await inflight.isCached(key))
        ? await store.cache.get(key, config.CACHE_TTL_SECONDS)
        : null;
      if (hit)
        return body.stream === true ? streamCached(c, endpoint, body, hit.body) : cachedAnswer(c, hit.body);
    }
    if (mode === "cache") {
      throw new ApiError(404, "No cached answer for this request (x-batch-mode: cache).", {
        code: "cache_miss",
      });
    }

    const { requestId } = await intake.enqueue(req, key);
    c.header("x-batch-cache", "miss");
    if (mode === "async") {
      const call = await intake.recordCall(req, requestId);
      return c.json(
        {
          id: call.id,
          object: PENDING_OBJECT[endpoint],
          status: "queued",
          created: call.created,
          ...PENDING_FIELDS[endpoint],
        },
        202,
      );
    }
    if (body.stream === true) return streamWhenReady(c, deps, { endpoint, request: body, requestId, key });
    const result = await waiters.wait(requestId, c.req.raw.signal);
    if (result === "shutdown") throw shuttingDown();
    if (result === "lost") {
      await inflight.release(key, requestId).catch(() => {});
      throw lostRequest();
    }
    return recordAnswer(c, result);
  };

  const retrieve = (endpoint: Endpoint | null) => async (c: Context<GatewayEnv>) => {
    const id = c.req.param("id") ?? "";
    const owner = deps.ownerOf(c.req.header("authorization"));
    const call = await store.calls.get(id);
    if (!call || call.owner !== owner || (endpoint && call.endpoint !== endpoint)) {
      throw new ApiError(404, `No request found with id '${id}'.`, { code: "not_found" });
    }
    const outcome = await store.requests.answer(call.requestId);
    if (outcome) return recordAnswer(c, outcome);
    const record = await store.requests.get(call.requestId);
    if (!record && (await intake.isLost(call.requestId))) throw lostRequest();
    return c.json(pending(call._id, call.endpoint, call.createdAt, record), 202);
  };

  for (const endpoint of ENDPOINTS) {
    const path = endpoint.slice("/v1".length);
    app.post(path, create(endpoint));
    app.get(`${path}/:id`, retrieve(endpoint));
  }
  app.get("/requests/:id", retrieve(null));
  return app;
}

function pending(id: string, endpoint: Endpoint, createdAt: Date, record: RequestRecord | null) {
  return {
    id,
    object: PENDING_OBJECT[endpoint],
    status: !record || record.state === "queued" ? "queued" : "in_progress",
    created: Math.floor(createdAt.getTime() / 1000),
    ...PENDING_FIELDS[endpoint],
  };
}
