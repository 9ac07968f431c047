import { Hono } from "hono";
import { adminRoutes } from "./admin/routes.ts";
import { authenticate } from "./auth/access.ts";
import { adminSessionRoutes } from "./auth/admin-session.ts";
import type { GatewayDeps, GatewayEnv } from "./deps.ts";
import { errorHandler, notFoundHandler } from "./errors.ts";
import { requestId } from "./request-id.ts";
import { adminEraseRoutes } from "./routes/admin-erase.ts";
import { adminKeyRoutes } from "./routes/admin-keys.ts";
import { batchRoutes } from "./routes/batches.ts";
import { endpointRoutes } from "./routes/endpoints.ts";
import { healthRoutes } from "./routes/health.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { QUEUE_BOARD_PATH, queueBoardRoutes } from "./routes/queue-board.ts";

/** Builds the gateway's HTTP app without listening, so tests can drive it directly. */
export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.use(requestId());
  // Before every route, present and future: which routes take which key is decided in one place.
  app.use(authenticate(deps.keyRing, { metricsOpen: deps.config.METRICS_OPEN }));
  // Bodies are read, and their size limit (MAX_BODY_BYTES) enforced, by request-body.ts.
  app.route("/", healthRoutes(deps));
  app.route("/v1", endpointRoutes(deps));
  app.route("/v1", batchRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route(QUEUE_BOARD_PATH, queueBoardRoutes(deps));
  app.route("/admin", adminRoutes(deps));
  app.route("/admin/api", adminKeyRoutes(deps));
  app.route("/admin/api", adminEraseRoutes(deps));
  app.route("/admin", adminSessionRoutes(deps.keyRing));
  app.onError(errorHandler(deps.log));
  app.notFound(notFoundHandler);
  return app;
}
