import { describe, expect, it } from "vitest";
import { accessOf, bearerKey } from "./access.ts";

describe("accessOf", () => {
  const closed = { metricsOpen: false };
  it("leaves the health probes and the sign-in page open, and nothing else", () => {
    expect(accessOf("/healthz", closed)).toBe("open");
    expect(accessOf("/readyz", closed)).toBe("open");
    expect(accessOf("/healthz/x", closed)).toBe("admin");
    // Signing in to the dashboards takes the key in its form.
    expect(accessOf("/admin/login", closed)).toBe("open");
    expect(accessOf("/admin/logout", closed)).toBe("admin");
  });
  it("lets any key use OpenAI's endpoints but the batches API", () => {
    expect(accessOf("/v1/chat/completions", closed)).toBe("client");
    expect(accessOf("/v1/requests/req_1", closed)).toBe("client");
    expect(accessOf("/v1/batches", closed)).toBe("admin");
    expect(accessOf("/v1/batches/batch_1/cancel", closed)).toBe("admin");
    expect(accessOf("/v1/batchesque", closed)).toBe("client");
  });
  it("makes every other route, including ones added later, admin only", () => {
    for (const path of ["/admin", "/admin/queues", "/admin/api/keys", "/metrics", "/", "/v1", "/new-route"]) {
      expect(accessOf(path, closed), path).toBe("admin");
    }
  });
  it("opens /metrics to scrapers only when asked", () => {
    expect(accessOf("/metrics", { metricsOpen: true })).toBe("open");
    expect(accessOf("/metrics/x", { metricsOpen: true })).toBe("admin");
  });
});

describe("bearerKey", () => {
  it("reads the key the SDKs send", () => {
    expect(bearerKey("Bearer sk-abc")).toBe("sk-abc");
    expect(bearerKey("bearer  sk-abc ")).toBe("sk-abc");
  });
  it("finds none in anything else", () => {
    for (const header of [undefined, "", "Bearer", "Bearer ", "Basic abc", "sk-abc", "Bearer a b"]) {
      expect(bearerKey(header), String(header)).toBeNull();
    }
  });
});
