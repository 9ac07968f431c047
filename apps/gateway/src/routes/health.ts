import { Hono } from "hono";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";

export function healthRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  /** Liveness: the process answers. */
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  /** Readiness: Redis and MongoDB both answer. */
  app.get("/readyz", async (c) => {
    const checks = await Promise.allSettled([deps.redis.ping(), deps.store.mongo.db.command({ ping: 1 })]);
    const [redis, mongo] = checks.map((r) => (r.status === "fulfilled" ? "ok" : "down"));
    const ok = redis === "ok" && mongo === "ok";
    return c.json({ status: ok ? "ok" : "degraded", redis, mongo }, ok ? 200 : 503);
  });
  return app;
}
