import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import type { GatewayEnv } from "../deps.ts";
import type { KeyRing } from "./key-ring.ts";

/**
 * Signing in to the dashboards from a browser, which cannot send a bearer header: the admin key is
 * posted once to /admin/login and kept in an HttpOnly, SameSite=Strict cookie scoped to /admin, which
 * the access rule (access.ts) reads on /admin routes only. The OpenAI endpoints never look at cookies.
 */
export const ADMIN_COOKIE = "batchgpt_admin";
const COOKIE_MAX_AGE_S = 12 * 3600;

/** The routes of signing in and out; /admin/login is open (access.ts). */
export function adminSessionRoutes(ring: KeyRing): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  app.get("/login", (c) => c.html(loginPage(c.req.query("failed") !== undefined)));

  app.post("/login", async (c) => {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const key = typeof form.key === "string" ? form.key.trim() : "";
    const caller = key ? ring.lookup(key) : null;
    if (caller?.role !== "admin") return c.redirect("/admin/login?failed", 303);
    setCookie(c, ADMIN_COOKIE, key, {
      path: "/admin",
      httpOnly: true,
      sameSite: "Strict",
      secure: isHttps(c.req.url, c.req.header("x-forwarded-proto")),
      maxAge: COOKIE_MAX_AGE_S,
    });
    return c.redirect("/admin", 303);
  });

  app.post("/logout", (c) => {
    deleteCookie(c, ADMIN_COOKIE, { path: "/admin" });
    return c.redirect("/admin/login", 303);
  });
  return app;
}

/** The admin key a browser's cookie carries on an /admin route, if any. */
export const adminCookieKey = (c: Parameters<typeof getCookie>[0]): string | undefined =>
  getCookie(c, ADMIN_COOKIE) || undefined;

const isHttps = (url: string, forwarded: string | undefined) =>
  url.startsWith("https:") || forwarded?.split(",")[0]?.trim() === "https";

const loginPage = (failed: boolean) => html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>batch-gpt — sign in</title>
    <style>
      body { font: 15px system-ui, sans-serif; display: grid; place-items: center; min-height: 90vh; }
      form { display: grid; gap: 0.6rem; width: 22rem; }
      input, button { font: inherit; padding: 0.45rem; }
      .failed { color: #b00020; }
    </style>
  </head>
  <body>
    <form method="post" action="/admin/login">
      <h1>batch-gpt</h1>
      <label for="key">Admin key</label>
      <input id="key" name="key" type="password" autocomplete="current-password" required autofocus />
      ${failed ? html`<p class="failed" role="alert">That is not an admin key.</p>` : ""}
      <button type="submit">Sign in</button>
    </form>
  </body>
</html>`;
