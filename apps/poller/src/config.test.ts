import { COMMON_DEFAULTS, settingsRefusal } from "@batch-gpt/testing";
import { describe, expect, it } from "vitest";
import { loadPollerConfig } from "./config.ts";

const REQUIRED = { REDIS_URL: "rediss://cache.example:6380", OPENAI_API_KEY: "sk-test" };

const refusal = (env: Record<string, string | undefined>) => settingsRefusal(loadPollerConfig, env);

describe("loadPollerConfig", () => {
  it("fills in every default from the two required settings", () => {
    expect(loadPollerConfig(REQUIRED)).toEqual({
      ...REQUIRED,
      ...COMMON_DEFAULTS,
      COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: 5000,
      COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS: 300,
      POLL_SWEEP_INTERVAL_MS: 60_000,
      POLL_JOB_LOCK_MS: 30_000,
      POLL_CONCURRENCY: 8,
      POLL_MAX_ATTEMPTS: 300,
      MAX_RESUBMITS: 3,
      MAX_INNOCENT_RESUBMITS: 5,
      TOKEN_LIMIT_RETRY_MS: 60_000,
      RETENTION_SWEEP_INTERVAL_MS: 3_600_000,
      METRICS_PORT: 9102,
      METRICS_HOST: "127.0.0.1",
    });
  });

  it("reads every setting it is given, at its lower bounds", () => {
    const config = loadPollerConfig({
      ...REQUIRED,
      COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: "10",
      COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS: "1",
      POLL_SWEEP_INTERVAL_MS: "100",
      POLL_JOB_LOCK_MS: "1000",
      POLL_CONCURRENCY: "1",
      MAX_RESUBMITS: "0",
      TOKEN_LIMIT_RETRY_MS: "0",
    });
    expect(config).toMatchObject({
      COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: 10,
      COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS: 1,
      POLL_SWEEP_INTERVAL_MS: 100,
      POLL_JOB_LOCK_MS: 1000,
      POLL_CONCURRENCY: 1,
      MAX_RESUBMITS: 0,
      TOKEN_LIMIT_RETRY_MS: 0,
    });
  });

  it("keeps everything for ever unless a retention window is set", () => {
    const config = loadPollerConfig(REQUIRED);
    for (const name of [
      "RETAIN_REQUEST_BODIES_DAYS",
      "RETAIN_ANSWERS_DAYS",
      "RETAIN_BATCHES_DAYS",
      "RETAIN_CALLS_DAYS",
      "CACHE_TTL_SECONDS",
    ] as const) {
      expect(config[name]).toBeUndefined();
    }
    expect(
      loadPollerConfig({
        ...REQUIRED,
        RETAIN_REQUEST_BODIES_DAYS: "7",
        RETAIN_ANSWERS_DAYS: "30",
        RETAIN_BATCHES_DAYS: "90",
        RETAIN_CALLS_DAYS: "2",
        CACHE_TTL_SECONDS: "3600",
        RETENTION_SWEEP_INTERVAL_MS: "100",
      }),
    ).toMatchObject({
      RETAIN_REQUEST_BODIES_DAYS: 7,
      RETAIN_ANSWERS_DAYS: 30,
      RETAIN_BATCHES_DAYS: 90,
      RETAIN_CALLS_DAYS: 2,
      CACHE_TTL_SECONDS: 3600,
      RETENTION_SWEEP_INTERVAL_MS: 100,
    });
  });

  it("takes the upper bounds themselves", () => {
    const config = loadPollerConfig({ ...REQUIRED, POLL_CONCURRENCY: "100", MAX_RESUBMITS: "100" });
    expect(config.POLL_CONCURRENCY).toBe(100);
    expect(config.MAX_RESUBMITS).toBe(100);
  });

  it("counts an empty setting as unset", () => {
    expect(loadPollerConfig({ ...REQUIRED, POLL_CONCURRENCY: "", TOKEN_LIMIT_RETRY_MS: "" })).toMatchObject({
      POLL_CONCURRENCY: 8,
      TOKEN_LIMIT_RETRY_MS: 60_000,
    });
  });

  it("says which required setting is missing", () => {
    expect(refusal({ REDIS_URL: REQUIRED.REDIS_URL })).toBe(
      "poller: invalid settings\n  OPENAI_API_KEY: is required but not set",
    );
  });

  it("names the variable of a malformed value", () => {
    const cases: [string, string][] = [
      ["COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS", "9"],
      ["COLLECT_BATCH_STATS_POLLING_MAX_INTERVAL_SECONDS", "0"],
      ["POLL_SWEEP_INTERVAL_MS", "99"],
      ["POLL_JOB_LOCK_MS", "999"],
      ["POLL_CONCURRENCY", "0"],
      ["POLL_CONCURRENCY", "101"],
      ["POLL_CONCURRENCY", "eight"],
      ["MAX_RESUBMITS", "-1"],
      ["TOKEN_LIMIT_RETRY_MS", "-1"],
      ["TOKEN_LIMIT_RETRY_MS", "1m"],
      ["RETAIN_ANSWERS_DAYS", "0"],
      ["RETAIN_REQUEST_BODIES_DAYS", "1.5"],
      ["RETENTION_SWEEP_INTERVAL_MS", "99"],
    ];
    for (const [name, value] of cases) {
      const message = refusal({ ...REQUIRED, [name]: value });
      expect(message.split("\n")).toEqual([
        "poller: invalid settings",
        expect.stringMatching(new RegExp(`^  ${name}: .*\\(got "${value}"\\)$`)),
      ]);
    }
  });
});
