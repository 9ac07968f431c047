import { describe, expect, it } from "vitest";
import { optionsFromEnv, parseEnv } from "./env.ts";

describe("environment", () => {
  it("has the documented defaults", () => {
    const opts = optionsFromEnv(parseEnv({}));
    expect(opts).toMatchObject({
      port: 8090,
      host: "127.0.0.1",
      batchDurationMs: 3000,
      apiKeys: [],
      faults: [],
    });
    expect(opts.stateDir).toBeUndefined();
  });

  it("parses keys, state dir and fault variables", () => {
    const opts = optionsFromEnv(
      parseEnv({
        EMULATOR_PORT: "9000",
        EMULATOR_API_KEYS: "a, b,,c",
        EMULATOR_STATE_DIR: "/tmp/x",
        EMULATOR_FAIL_UPLOADS: "2",
        EMULATOR_RATE_LIMIT_BATCH_CREATES: "1",
      }),
    );
    expect(opts).toMatchObject({ port: 9000, apiKeys: ["a", "b", "c"], stateDir: "/tmp/x" });
    expect(opts.faults).toEqual([
      { target: "files.create", status: 500, times: 2 },
      { target: "batches.create", status: 429, times: 1, retryAfterSeconds: 1 },
    ]);
  });

  it("names the variable in error messages", () => {
    expect(() => parseEnv({ EMULATOR_BATCH_DURATION_MS: "soon" })).toThrow(/EMULATOR_BATCH_DURATION_MS/);
    expect(() => parseEnv({ EMULATOR_PORT: "70000" })).toThrow(/EMULATOR_PORT/);
  });
});
