import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { adminRoutes } from "./admin/routes.ts";
import type { GatewayDeps, GatewayEnv } from "./deps.ts";
import { errorHandler, notFoundHandler } from "./errors.ts";
import { batchRoutes } from "./routes/batches.ts";
import { endpointRoutes } from "./routes/endpoints.ts";
import { healthRoutes } from "./routes/health.ts";

/** Builds the gateway's HTTP app without listening, so tests can drive it directly. */
export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.use(requestId({ headerName: "x-request-id" }));
  // Bodies are read, and their size limit (MAX_BODY_BYTES) enforced, by request-body.ts.
  app.route("/", healthRoutes(deps));
  app.route("/v1", endpointRoutes(deps));
  app.route("/v1", batchRoutes(deps));
  app.route("/admin", adminRoutes(deps));
  app.onError(errorHandler(deps.log));
  app.notFound(notFoundHandler);
  return app;
}
