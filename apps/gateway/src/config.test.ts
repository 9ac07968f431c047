import { COMMON_DEFAULTS, settingsRefusal } from "@batch-gpt/testing";
import { describe, expect, it } from "vitest";
import { loadGatewayConfig } from "./config.ts";

const REQUIRED = { REDIS_URL: "redis://127.0.0.1:6379", OPENAI_API_KEY: "sk-test" };

const refusal = (env: Record<string, string | undefined>) => settingsRefusal(loadGatewayConfig, env);

describe("loadGatewayConfig", () => {
  it("fills in every default from the two required settings", () => {
    expect(loadGatewayConfig(REQUIRED)).toEqual({
      ...REQUIRED,
      ...COMMON_DEFAULTS,
      CALL_REDIS_TTL_SECONDS: 86400,
      PORT: 8080,
      CLIENT_SERVING_MODE: "sync",
      MAX_BODY_BYTES: 8 * 1024 * 1024,
      MAX_QUEUED_REQUESTS: 100_000,
      MAX_QUEUED_BYTES: 1024 * 1024 * 1024,
      MAX_JSON_DEPTH: 64,
      MAX_STRING_CHARS: 10_485_760,
      MAX_MESSAGES: 2048,
      SSE_KEEPALIVE_MS: 15_000,
      WAITER_RECHECK_MS: 30_000,
      MONGO_FAIL_FAST_MS: 1000,
      GATEWAY_API_KEYS: [],
      GATEWAY_ADMIN_KEYS: [],
      GATEWAY_UNSAFE_NO_AUTH: false,
      METRICS_OPEN: false,
      KEYS_REFRESH_MS: 2000,
      CACHE_SCOPE: "tenant",
      QUOTA_ASYNC_PENDING_SECONDS: 86_400,
      QUOTA_LEASE_MS: 60_000,
    });
  });

  it("reads keys as comma-separated lists, and flags as true/false", () => {
    const config = loadGatewayConfig({
      ...REQUIRED,
      GATEWAY_API_KEYS: " sk-a ,sk-b,, ",
      GATEWAY_ADMIN_KEYS: "sk-admin",
      GATEWAY_UNSAFE_NO_AUTH: "true",
      METRICS_OPEN: "1",
    });
    expect(config.GATEWAY_API_KEYS).toEqual(["sk-a", "sk-b"]);
    expect(config.GATEWAY_ADMIN_KEYS).toEqual(["sk-admin"]);
    expect(config.GATEWAY_UNSAFE_NO_AUTH).toBe(true);
    expect(config.METRICS_OPEN).toBe(true);
    expect(refusal({ ...REQUIRED, METRICS_OPEN: "yes" })).toMatch(/METRICS_OPEN/);
  });

  it("never quotes a key back in a settings error", () => {
    expect(refusal({ ...REQUIRED, GATEWAY_API_KEYS: "sk-secret", KEYS_REFRESH_MS: "1" })).not.toContain(
      "sk-secret",
    );
  });

  it("leaves the cache TTL unset (answers never expire) unless given", () => {
    expect(loadGatewayConfig(REQUIRED).CACHE_TTL_SECONDS).toBeUndefined();
    expect(loadGatewayConfig({ ...REQUIRED, CACHE_TTL_SECONDS: "" }).CACHE_TTL_SECONDS).toBeUndefined();
    expect(loadGatewayConfig({ ...REQUIRED, CACHE_TTL_SECONDS: "3600" }).CACHE_TTL_SECONDS).toBe(3600);
  });

  it("reads every setting it is given", () => {
    const config = loadGatewayConfig({
      ...REQUIRED,
      OPENAI_BASE_URL: "http://127.0.0.1:9999/v1",
      MONGODB_URI: "mongodb://127.0.0.1:27017/db",
      BULL_PREFIX: "p",
      PORT: "0",
      CLIENT_SERVING_MODE: "async",
      MAX_BODY_BYTES: "1024",
      SSE_KEEPALIVE_MS: "100",
      WAITER_RECHECK_MS: "100",
    });
    expect(config).toMatchObject({
      OPENAI_BASE_URL: "http://127.0.0.1:9999/v1",
      MONGODB_URI: "mongodb://127.0.0.1:27017/db",
      BULL_PREFIX: "p",
      PORT: 0,
      CLIENT_SERVING_MODE: "async",
      MAX_BODY_BYTES: 1024,
      SSE_KEEPALIVE_MS: 100,
      WAITER_RECHECK_MS: 100,
    });
  });

  it("accepts each serving mode and nothing else", () => {
    for (const mode of ["sync", "async", "cache"]) {
      expect(loadGatewayConfig({ ...REQUIRED, CLIENT_SERVING_MODE: mode }).CLIENT_SERVING_MODE).toBe(mode);
    }
    expect(refusal({ ...REQUIRED, CLIENT_SERVING_MODE: "SYNC" })).toMatch(
      /^ {2}CLIENT_SERVING_MODE: .*\(got "SYNC"\)$/m,
    );
  });

  it("says which required setting is missing, empty counting as missing", () => {
    expect(refusal({ OPENAI_API_KEY: "sk-test" })).toContain("REDIS_URL: is required but not set");
    expect(refusal({ REDIS_URL: REQUIRED.REDIS_URL, OPENAI_API_KEY: "" })).toContain(
      "OPENAI_API_KEY: is required but not set",
    );
    const both = refusal({});
    expect(both).toMatch(/^gateway: invalid settings\n/);
    expect(both).toContain("REDIS_URL");
    expect(both).toContain("OPENAI_API_KEY");
  });

  it("names the variable of a malformed value", () => {
    const cases: [string, string][] = [
      ["PORT", "http"],
      ["PORT", "65536"],
      ["PORT", "-1"],
      ["PORT", "80.5"],
      ["MAX_BODY_BYTES", "1023"],
      ["MAX_BODY_BYTES", String(15 * 1024 * 1024 + 1)],
      ["CACHE_TTL_SECONDS", "0"],
      ["SSE_KEEPALIVE_MS", "99"],
      ["WAITER_RECHECK_MS", "soon"],
      ["REDIS_URL", "localhost:6379"],
      ["MONGODB_URI", "postgres://h/db"],
      ["MONGO_PORT", "0"],
      ["OPENAI_BASE_URL", "not a url"],
    ];
    for (const [name, value] of cases) {
      const message = refusal({ ...REQUIRED, [name]: value });
      expect(message.split("\n")).toEqual([
        "gateway: invalid settings",
        expect.stringMatching(new RegExp(`^  ${name}: `)),
      ]);
      expect(message).toContain(`(got "${value}")`);
    }
  });

  it("takes the limits themselves", () => {
    expect(loadGatewayConfig({ ...REQUIRED, PORT: "65535" }).PORT).toBe(65535);
    expect(loadGatewayConfig({ ...REQUIRED, MAX_BODY_BYTES: String(15 * 1024 * 1024) }).MAX_BODY_BYTES).toBe(
      15 * 1024 * 1024,
    );
    expect(loadGatewayConfig({ ...REQUIRED, CACHE_TTL_SECONDS: "1" }).CACHE_TTL_SECONDS).toBe(1);
  });
});
