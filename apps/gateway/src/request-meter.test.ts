import { ApiError } from "@batch-gpt/contracts";
import { AppMetrics, gatewayMetrics } from "@batch-gpt/metrics";
import { sampleOf } from "@batch-gpt/testing";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { GatewayEnv } from "./deps.ts";
import { outcomeOfError, outcomeOfResponse, RequestMeter } from "./request-meter.ts";
import { lostRequest, shuttingDown } from "./responses.ts";

const CHAT = "/v1/chat/completions";

describe("outcomeOfResponse", () => {
  it("reads a cache hit, an async 202, an answer and a failed line off the response", () => {
    const json = { "content-type": "application/json" };
    expect(outcomeOfResponse(new Response("{}", { headers: { ...json, "x-batch-cache": "hit" } }))).toBe(
      "cache_hit",
    );
    expect(outcomeOfResponse(new Response("{}", { status: 202, headers: json }))).toBe("accepted");
    expect(outcomeOfResponse(new Response("{}", { headers: { ...json, "x-batch-cache": "miss" } }))).toBe(
      "succeeded",
    );
    expect(outcomeOfResponse(new Response("{}", { status: 400, headers: json }))).toBe("failed");
    expect(
      outcomeOfResponse(new Response("data: {}\n\n", { headers: { "content-type": "text/event-stream" } })),
    ).toBe("streaming");
  });
});

describe("outcomeOfError", () => {
  it("tells lost, shutting down, cache misses, refusals and failures apart", () => {
    expect(outcomeOfError(lostRequest())).toBe("lost");
    expect(outcomeOfError(shuttingDown())).toBe("shutdown");
    expect(outcomeOfError(new ApiError(404, "none", { code: "cache_miss" }))).toBe("cache_miss");
    expect(outcomeOfError(new ApiError(400, "bad"))).toBe("rejected");
    expect(outcomeOfError(new ApiError(503, "could not queue", { type: "server_error" }))).toBe("error");
    expect(outcomeOfError(new Error("boom"))).toBe("error");
  });
});

describe("RequestMeter.route", () => {
  /** A route returning `respond()`, metered; the counts it made, read back. */
  function metered(respond: () => Response | Promise<Response>) {
    const { registry } = new AppMetrics();
    const meter = new RequestMeter(gatewayMetrics(registry), "sync");
    const app = new Hono<GatewayEnv>();
    app.post(
      CHAT,
      meter.route(CHAT, async () => respond()),
    );
    app.onError((err) => new Response(err.message, { status: err instanceof ApiError ? err.status : 500 }));
    const count = async (mode: string, outcome: string) =>
      sampleOf(await registry.metrics(), "batchgpt_requests_total", { endpoint: CHAT, mode, outcome }) ?? 0;
    return { app, count };
  }

  it("counts a streamed answer when its stream ends, as failed when it carries an error event", async () => {
    const sse = (events: string[]) =>
      new Response(
        new ReadableStream({
          start(controller) {
            for (const event of events) controller.enqueue(new TextEncoder().encode(event));
            controller.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    const ok = metered(() =>
      sse([": keep-alive\n\n", 'data: {"id":"c","choices":[]}\n\n', "data: [DONE]\n\n"]),
    );
    const res = await ok.app.request(CHAT, { method: "POST" });
    expect(await ok.count("sync", "succeeded")).toBe(0);
    expect(await res.text()).toContain("[DONE]");
    expect(await ok.count("sync", "succeeded")).toBe(1);

    const bad = metered(() => sse([": keep-alive\n\n", 'data: {"error":{"message":"no"}}\n\n']));
    await (await bad.app.request(CHAT, { method: "POST", headers: { "x-batch-mode": "SYNC" } })).text();
    expect(await bad.count("sync", "failed")).toBe(1);
    expect(await bad.count("sync", "succeeded")).toBe(0);
  });

  it("counts a thrown error once, under the mode the call asked for (the default when unreadable)", async () => {
    const lost = metered(() => {
      throw lostRequest();
    });
    expect(
      (await lost.app.request(CHAT, { method: "POST", headers: { "x-batch-mode": "async" } })).status,
    ).toBe(503);
    expect(await lost.count("async", "lost")).toBe(1);
    await lost.app.request(CHAT, { method: "POST", headers: { "x-batch-mode": "bogus" } });
    expect(await lost.count("sync", "lost")).toBe(1);
  });
});
