import { MAX_BATCH_FILE_BYTES, MAX_LINES_PER_BATCH } from "@batch-gpt/contracts";
import { COMMON_DEFAULTS, settingsRefusal } from "@batch-gpt/testing";
import { describe, expect, it } from "vitest";
import { loadCollatorConfig } from "./config.ts";

const REQUIRED = { REDIS_URL: "redis://127.0.0.1:6379", OPENAI_API_KEY: "sk-test" };

const refusal = (env: Record<string, string | undefined>) => settingsRefusal(loadCollatorConfig, env);

describe("loadCollatorConfig", () => {
  it("fills in every default from the two required settings", () => {
    expect(loadCollatorConfig(REQUIRED)).toEqual({
      ...REQUIRED,
      ...COMMON_DEFAULTS,
      COLLATE_BATCHES_FOR_DURATION_IN_MS: 5000,
      COLLATE_MAX_LINES: MAX_LINES_PER_BATCH,
      COLLATE_MAX_BYTES: MAX_BATCH_FILE_BYTES,
      COLLATOR_STALE_RECORD_MS: 120_000,
      COLLATOR_RECOVERY_INTERVAL_MS: 30_000,
      COLLATOR_JOB_LOCK_MS: 30_000,
      COLLATOR_MAX_HELD_BYTES: 256 * 1024 * 1024,
      COLLATOR_MAX_FLUSHES: 4,
      COLLATE_MAX_ATTEMPTS: 8,
      COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: 5000,
      MAX_RESUBMITS: 3,
      MAX_INNOCENT_RESUBMITS: 5,
      METRICS_PORT: 9101,
      METRICS_HOST: "127.0.0.1",
    });
  });

  it("defaults its limits to OpenAI's, which its bounds allow", () => {
    const config = loadCollatorConfig({
      ...REQUIRED,
      COLLATE_MAX_LINES: String(MAX_LINES_PER_BATCH),
      COLLATE_MAX_BYTES: String(200 * 1024 * 1024),
    });
    expect(config.COLLATE_MAX_LINES).toBe(MAX_LINES_PER_BATCH);
    expect(config.COLLATE_MAX_BYTES).toBe(200 * 1024 * 1024);
  });

  it("reads every setting it is given, zero where zero is allowed", () => {
    const config = loadCollatorConfig({
      ...REQUIRED,
      COLLATE_BATCHES_FOR_DURATION_IN_MS: "0",
      COLLATE_MAX_LINES: "1",
      COLLATE_MAX_BYTES: "1024",
      COLLATOR_STALE_RECORD_MS: "1000",
      COLLATOR_RECOVERY_INTERVAL_MS: "100",
      COLLATOR_JOB_LOCK_MS: "1000",
      COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: "10",
      MAX_RESUBMITS: "0",
    });
    expect(config).toMatchObject({
      COLLATE_BATCHES_FOR_DURATION_IN_MS: 0,
      COLLATE_MAX_LINES: 1,
      COLLATE_MAX_BYTES: 1024,
      COLLATOR_STALE_RECORD_MS: 1000,
      COLLATOR_RECOVERY_INTERVAL_MS: 100,
      COLLATOR_JOB_LOCK_MS: 1000,
      COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS: 10,
      MAX_RESUBMITS: 0,
    });
  });

  it("counts an empty setting as unset", () => {
    expect(loadCollatorConfig({ ...REQUIRED, COLLATE_MAX_LINES: "", MAX_RESUBMITS: "" })).toMatchObject({
      COLLATE_MAX_LINES: MAX_LINES_PER_BATCH,
      MAX_RESUBMITS: 3,
    });
  });

  it("says which required setting is missing", () => {
    const message = refusal({ REDIS_URL: "", OPENAI_API_KEY: "sk-test" });
    expect(message).toBe("collator: invalid settings\n  REDIS_URL: is required but not set");
  });

  it("names the variable of a malformed value", () => {
    const cases: [string, string][] = [
      ["COLLATE_BATCHES_FOR_DURATION_IN_MS", "-1"],
      ["COLLATE_BATCHES_FOR_DURATION_IN_MS", "5s"],
      ["COLLATE_MAX_LINES", "0"],
      ["COLLATE_MAX_LINES", String(MAX_LINES_PER_BATCH + 1)],
      ["COLLATE_MAX_BYTES", "1023"],
      ["COLLATE_MAX_BYTES", String(200 * 1024 * 1024 + 1)],
      ["COLLATOR_STALE_RECORD_MS", "999"],
      ["COLLATOR_RECOVERY_INTERVAL_MS", "99"],
      ["COLLATOR_JOB_LOCK_MS", "999"],
      ["COLLECT_BATCH_STATS_POLLING_MIN_INTERVAL_MS", "9"],
      ["MAX_RESUBMITS", "101"],
      ["MAX_RESUBMITS", "1.5"],
      ["REDIS_URL", "http://127.0.0.1:6379"],
    ];
    for (const [name, value] of cases) {
      const message = refusal({ ...REQUIRED, [name]: value });
      expect(message.split("\n")).toEqual([
        "collator: invalid settings",
        expect.stringMatching(new RegExp(`^  ${name}: .*\\(got "${value.replace(/\./g, "\\.")}"\\)$`)),
      ]);
    }
  });
});
