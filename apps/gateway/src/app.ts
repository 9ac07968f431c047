import { ApiError } from "@batch-gpt/contracts";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { GatewayDeps, GatewayEnv } from "./deps.ts";
import { errorHandler, notFoundHandler } from "./errors.ts";
import { batchRoutes } from "./routes/batches.ts";
import { endpointRoutes } from "./routes/endpoints.ts";
import { healthRoutes } from "./routes/health.ts";

/** Builds the gateway's HTTP app without listening, so tests can drive it directly. */
export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.use(requestId({ headerName: "x-request-id" }));
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: deps.config.MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(
          413,
          `Request body is larger than the limit of ${deps.config.MAX_BODY_BYTES} bytes.`,
          {
            code: "request_too_large",
          },
        );
      },
    }),
  );
  app.route("/", healthRoutes(deps));
  app.route("/v1", endpointRoutes(deps));
  app.route("/v1", batchRoutes(deps));
  app.onError(errorHandler(deps.log));
  app.notFound(notFoundHandler);
  return app;
}
