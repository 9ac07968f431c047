import { ApiError } from "@batch-gpt/contracts";
import type { Context, MiddlewareHandler } from "hono";
import type { GatewayEnv } from "../deps.ts";
import { adminCookieKey } from "./admin-session.ts";
import { type Caller, type KeyRing, LOCAL_CALLER } from "./key-ring.ts";

/** Who may call a route: anyone, any valid key, or an admin key only. */
export type Access = "open" | "client" | "admin";

/**
 * The one rule for every route, present and future: health probes are open (they reveal nothing),
 * OpenAI's endpoints take any key, and everything else — batches (they mix tenants' lines), the
 * operator API, dashboards, metrics — takes an admin key. A new route is admin-only unless listed here.
 */
export function accessOf(path: string, opts: { metricsOpen: boolean }): Access {
  if (path === "/healthz" || path === "/readyz" || path === "/admin/login") return "open";
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

/**
 * Authenticates every request before any route runs, and sets `caller` for the routes. On /admin routes
 * a browser signed in at /admin/login sends its admin key in a cookie instead (admin-session.ts); a
 * browser asking for a page without one is sent to sign in.
 */
export function authenticate(ring: KeyRing, opts: { metricsOpen: boolean }): MiddlewareHandler<GatewayEnv> {
  // Not async: it returns `next()`'s promise, so a held caller keeps no suspended frame here.
  return (c, next) => {
    const access = accessOf(c.req.path, opts);
    if (access === "open") return next();
    if (ring.open) {
      c.set("caller", LOCAL_CALLER);
      return next();
    }
    const bearer = bearerKey(c.req.header("authorization"));
    const cookie = bearer || !isAdminPath(c.req.path) ? undefined : adminCookieKey(c);
    if (!bearer && !cookie && wantsPage(c)) return Promise.resolve(c.redirect("/admin/login", 302));
    if (cookie && !sameOrigin(c)) throw crossSite();
    c.set("caller", callerFor(ring, access, bearer ?? cookie));
    return next();
  };
}

const isAdminPath = (path: string) => path === "/admin" || path.startsWith("/admin/");

/** A browser loading an /admin page (not the API behind it). */
const wantsPage = (c: Context<GatewayEnv>) =>
  c.req.method === "GET" &&
  isAdminPath(c.req.path) &&
  !c.req.path.startsWith("/admin/api/") &&
  (c.req.header("accept") ?? "").includes("text/html");

/**
 * A request riding on the cookie that changes something must come from the dashboard's own origin.
 * The SameSite=Strict cookie already keeps other sites' requests from carrying it; this also holds
 * for browsers that send an Origin on a same-site but cross-origin request.
 */
function sameOrigin(c: Context<GatewayEnv>): boolean {
  if (c.req.method === "GET" || c.req.method === "HEAD") return true;
  const origin = c.req.header("origin");
  if (!origin) return true;
  try {
    return new URL(origin).host === c.req.header("host");
  } catch {
    return false;
  }
}

const crossSite = () =>
  new ApiError(403, "A dashboard action must come from the dashboard's own page.", {
    type: "invalid_request_error",
    code: "cross_site_request",
  });

function callerFor(ring: KeyRing, access: Exclude<Access, "open">, key: string | null | undefined): Caller {
  if (!key) throw missingKey();
  const caller = ring.lookup(key);
  if (!caller) throw wrongKey();
  if (access === "admin" && caller.role !== "admin") throw notAdmin();
  return caller;
}
