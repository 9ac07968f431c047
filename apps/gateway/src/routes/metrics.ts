import { Hono } from "hono";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";

/**
 * Prometheus's scrape of this gateway: its own counts, the process's figures and the deployment's
 * (queues, batches). An admin route (the auth middleware lets scrapers in when METRICS_OPEN=true).
 */
export function metricsRoutes(deps: Pick<GatewayDeps, "metrics">): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.get("/metrics", async (c) =>
    c.body(await deps.metrics.scrape(), 200, { "content-type": deps.metrics.contentType }),
  );
  return app;
}
