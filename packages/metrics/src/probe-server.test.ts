import { Counter } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppMetrics } from "./exposition.ts";
import { type ProbeServer, type ReadyChecks, serveProbes } from "./probe-server.ts";

let server: ProbeServer;
let checks: ReadyChecks = { redis: "ok", mongo: "ok" };
const metrics = new AppMetrics();
const counter = new Counter({
  name: "probe_test_total",
  help: "a test counter",
  registers: [metrics.registry],
});
const errors: object[] = [];

beforeAll(async () => {
  server = await serveProbes({
    host: "127.0.0.1",
    port: 0,
    metrics,
    ready: async () => checks,
    log: { error: (obj) => errors.push(obj) },
  });
});
afterAll(() => server.close());

describe("the probe server", () => {
  it("serves the app's metrics and the process's own figures in Prometheus's text format", async () => {
    counter.inc(3);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(/^probe_test_total 3$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it("answers /healthz while up, and /readyz by its checks", async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${server.url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: "ok", redis: "ok", mongo: "ok" }]);
    checks = { redis: "ok", mongo: "down" };
    const degraded = await fetch(`${server.url}/readyz`);
    expect([degraded.status, await degraded.json()]).toEqual([
      503,
      { status: "degraded", redis: "ok", mongo: "down" },
    ]);
  });

  it("answers anything else with OpenAI's error body", async () => {
    const res = await fetch(`${server.url}/v1/models`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("/v1/models");
    const post = await fetch(`${server.url}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
  });
});
