import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayEnv } from "./deps.ts";
import { requestId } from "./request-id.ts";
import { cachedResponse, headerForAll } from "./responses.ts";

// On Node, responses.ts sends plain header objects and sets headers for every response on Node's own
// response: the request id and the headers set for all must still reach the caller, whatever the
// response (one of ours, Hono's, or an error).
let server: ReturnType<typeof serve>;
let url: string;
beforeAll(async () => {
  const app = new Hono<GatewayEnv>();
  app.use(requestId());
  app.get("/hit", (c) => cachedResponse(c, `{"id":"${c.get("requestId")}"}`));
  app.get("/json", (c) => c.json({ id: c.get("requestId") }));
  app.get("/fails", (c) => {
    headerForAll(c, "x-batch-cache", "miss");
    throw new Error("boom");
  });
  app.onError((_err, c) => c.json({ error: "boom" }, 503));
  server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("the request id", () => {
  it("is the caller's own when it is a plain token, and is sent back with every response", async () => {
    const hit = await fetch(`${url}/hit`, { headers: { "x-request-id": "trace-1_a=" } });
    expect(hit.headers.get("x-request-id")).toBe("trace-1_a=");
    expect(hit.headers.get("x-batch-cache")).toBe("hit");
    expect(hit.headers.get("content-type")).toBe("application/json");
    expect(await hit.json()).toEqual({ id: "trace-1_a=" });

    const json = await fetch(`${url}/json`, { headers: { "x-request-id": "trace-2" } });
    expect(json.headers.get("x-request-id")).toBe("trace-2");
    expect(await json.json()).toEqual({ id: "trace-2" });
  });

  it("is a new UUID when the caller's is missing, too long or not a plain token", async () => {
    for (const given of [undefined, "x".repeat(256), "no spaces", "semi;colon"]) {
      const res = await fetch(
        `${url}/hit`,
        given === undefined ? {} : { headers: { "x-request-id": given } },
      );
      const sent = res.headers.get("x-request-id");
      expect(sent).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(await res.json()).toEqual({ id: sent });
    }
  });

  it("and a header set for all go out on an error response too", async () => {
    const res = await fetch(`${url}/fails`, { headers: { "x-request-id": "trace-3" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-request-id")).toBe("trace-3");
    expect(res.headers.get("x-batch-cache")).toBe("miss");
  });
});
