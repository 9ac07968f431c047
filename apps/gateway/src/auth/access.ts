import { ApiError } from "@batch-gpt/contracts";
import type { MiddlewareHandler } from "hono";
import type { GatewayEnv } from "../deps.ts";
import { type Caller, type KeyRing, LOCAL_CALLER } from "./key-ring.ts";

/** Who may call a route: anyone, any valid key, or an admin key only. */
export type Access = "open" | "client" | "admin";

/**
 * The one rule for every route, present and future: health probes are open (they reveal nothing),
 * OpenAI's endpoints take any key, and everything else — batches (they mix tenants' lines), the
 * operator API, dashboards, metrics — takes an admin key. A new route is admin-only unless listed here.
 */
export function accessOf(path: string, opts: { metricsOpen: boolean }): Access {
  if (path === "/healthz" || path === "/readyz") return "open";
  if (path === "/metrics" && opts.metricsOpen) return "open";
  if (path === "/v1/batches" || path.startsWith("/v1/batches/")) return "admin";
  if (path.startsWith("/v1/")) return "client";
  return "admin";
}

/** The key an SDK sends: `Authorization: Bearer <key>`. */
export function bearerKey(authorization: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return match ? (match[1] as string) : null;
}

// OpenAI's words for these refusals. The presented key is never repeated back (OpenAI echoes a masked
// form of it; we do not, so no key ever reaches a log or a proxy's error page through us).
const missingKey = () =>
  new ApiError(
    401,
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    { type: "invalid_request_error" },
  );
const wrongKey = () =>
  new ApiError(401, "Incorrect API key provided.", {
    type: "invalid_request_error",
    code: "invalid_api_key",
  });
const notAdmin = () =>
  new ApiError(403, "You have insufficient permissions for this operation: it needs an admin key.", {
    type: "invalid_request_error",
    code: "insufficient_permissions",
  });

/** Authenticates every request before any route runs, and sets `caller` for the routes. */
export function authenticate(ring: KeyRing, opts: { metricsOpen: boolean }): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const access = accessOf(c.req.path, opts);
    if (access !== "open") c.set("caller", callerFor(ring, access, c.req.header("authorization")));
    await next();
  };
}

function callerFor(
  ring: KeyRing,
  access: Exclude<Access, "open">,
  authorization: string | undefined,
): Caller {
  if (ring.open) return LOCAL_CALLER;
  const key = bearerKey(authorization);
  if (!key) throw missingKey();
  const caller = ring.lookup(key);
  if (!caller) throw wrongKey();
  if (access === "admin" && caller.role !== "admin") throw notAdmin();
  return caller;
}
