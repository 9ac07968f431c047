import type { MiddlewareHandler } from "hono";
import type { GatewayEnv } from "./deps.ts";
import { headerForAll } from "./responses.ts";

const HEADER = "x-request-id";

/**
 * Every request's id (`requestId`, the trace id of its logs and jobs): the caller's own `x-request-id`
 * when it is a short plain token, else a new UUID; sent back in every response as `x-request-id`.
 * Hono's request-id middleware does the same through `c.header`, which builds a fetch `Headers` per
 * request; here the header is set on Node's response (responses.ts, `headerForAll`).
 */
export function requestId(): MiddlewareHandler<GatewayEnv> {
  // Not async: it returns `next()`'s promise, so a held caller keeps no suspended frame here.
  return (c, next) => {
    const given = c.req.header(HEADER);
    const id = given && given.length <= 255 && !/[^\w\-=]/.test(given) ? given : crypto.randomUUID();
    c.set("requestId", id);
    headerForAll(c, HEADER, id);
    return next();
  };
}
