import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, type Env, intSetting, parseEnv } from "./env.ts";

const schema = z.object({
  NEEDED: z.string(),
  COUNT: intSetting(1, 10).default(3),
  MODE: z.enum(["fast", "slow"]).default("fast"),
  URL: z
    .string()
    .regex(/^redis:\/\//, "must be a redis:// URL")
    .optional(),
});

/** The ConfigError `parseEnv` throws for `env`. */
function failure(env: Record<string, string | undefined>, app = "app"): ConfigError {
  try {
    parseEnv(schema, env, app);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected the settings to be refused");
}

describe("parseEnv", () => {
  it("returns the parsed settings with defaults filled in and unknown variables dropped", () => {
    expect(parseEnv(schema, { NEEDED: "x", PATH: "/usr/bin", HOME: "/root" }, "app")).toEqual({
      NEEDED: "x",
      COUNT: 3,
      MODE: "fast",
    });
  });

  it("coerces integer settings from their text", () => {
    expect(parseEnv(schema, { NEEDED: "x", COUNT: "7", MODE: "slow", URL: "redis://h" }, "app")).toEqual({
      NEEDED: "x",
      COUNT: 7,
      MODE: "slow",
      URL: "redis://h",
    });
  });

  it("counts empty strings as unset: defaults apply and optional settings stay absent", () => {
    const settings = parseEnv(schema, { NEEDED: "x", COUNT: "", MODE: "", URL: "" }, "app");
    expect(settings).toEqual({ NEEDED: "x", COUNT: 3, MODE: "fast" });
    expect("URL" in settings).toBe(false);
  });

  it("counts undefined values as unset", () => {
    expect(parseEnv(schema, { NEEDED: "x", COUNT: undefined }, "app").COUNT).toBe(3);
  });

  it("says a required variable is not set, whether absent or empty", () => {
    for (const env of [{}, { NEEDED: "" }, { NEEDED: undefined }]) {
      const error = failure(env);
      expect(error.message).toBe("app: invalid settings\n  NEEDED: is required but not set");
    }
  });

  it("names the app, the variable and the value it got", () => {
    const error = failure({ NEEDED: "x", COUNT: "0" }, "collator");
    expect(error.name).toBe("ConfigError");
    expect(error.message.split("\n")[0]).toBe("collator: invalid settings");
    expect(error.message).toMatch(/^ {2}COUNT: .*>=1.* \(got "0"\)$/m);
  });

  it("uses the schema's own message for a malformed value", () => {
    expect(failure({ NEEDED: "x", URL: "http://h" }).message).toContain(
      '  URL: must be a redis:// URL (got "http://h")',
    );
  });

  it("lists every problem, one line per variable", () => {
    const lines = failure({ COUNT: "eleven", MODE: "medium", URL: "x" }).message.split("\n");
    expect(lines[0]).toBe("app: invalid settings");
    const named = lines.slice(1).map((l) => l.trim().split(":")[0]);
    expect(named.sort()).toEqual(["COUNT", "MODE", "NEEDED", "URL"]);
    expect(lines.find((l) => l.includes("MODE"))).toContain('(got "medium")');
    expect(lines.find((l) => l.includes("COUNT"))).toContain('(got "eleven")');
  });

  it("is a plain Error to callers that do not know ConfigError", () => {
    expect(failure({})).toBeInstanceOf(Error);
  });
});

describe("intSetting", () => {
  const parse = (setting: z.ZodType, value: string) => setting.safeParse(value);

  it("takes integers from the minimum to the maximum, inclusive", () => {
    const setting = intSetting(1, 10);
    expect(parse(setting, "1").data).toBe(1);
    expect(parse(setting, "10").data).toBe(10);
    expect(parse(setting, "05").data).toBe(5);
  });

  it("refuses values below the minimum or above the maximum", () => {
    const setting = intSetting(1, 10);
    for (const value of ["0", "-1", "11", "1000"]) expect(parse(setting, value).success).toBe(false);
  });

  it("refuses fractions and text that is not a number", () => {
    const setting = intSetting(0);
    for (const value of ["1.5", "abc", "12abc", "NaN", "Infinity"]) {
      expect(parse(setting, value).success).toBe(false);
    }
  });

  it("has no upper bound beyond the safe integers unless given one", () => {
    const setting = intSetting(0);
    expect(parse(setting, String(Number.MAX_SAFE_INTEGER)).data).toBe(Number.MAX_SAFE_INTEGER);
    expect(parse(setting, "1e300").success).toBe(false);
  });

  it("allows zero when the minimum is zero", () => {
    expect(parse(intSetting(0), "0").data).toBe(0);
    expect(parse(intSetting(1), "0").success).toBe(false);
  });
});

describe("secrets in settings errors", () => {
  const schema = z.object({
    REDIS_URL: z.string().regex(/^redis:\/\//, "must be a redis:// URL"),
    OPENAI_API_KEY: z.string().min(10, "too short"),
    N: intSetting(1),
  });
  const message = (env: Env) => {
    try {
      parseEnv(schema, env, "app");
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("expected a refusal");
  };

  it("masks a URL's password and never repeats a key", () => {
    const text = message({ REDIS_URL: "http://user:hunter2@h:6379", OPENAI_API_KEY: "sk-short", N: "1" });
    expect(text).toContain('(got "http://user:***@h:6379")');
    expect(text).not.toContain("hunter2");
    expect(text).toMatch(/^ {2}OPENAI_API_KEY: too short$/m);
    expect(text).not.toContain("sk-short");
  });

  it("counts a value of only spaces as unset, and takes only plain decimal integers", () => {
    expect(message({ REDIS_URL: "redis://h", OPENAI_API_KEY: "sk-0123456789", N: "   " })).toMatch(
      /N: is required but not set/,
    );
    for (const n of ["1e3", "0x10", "12abc"]) {
      expect(message({ REDIS_URL: "redis://h", OPENAI_API_KEY: "sk-0123456789", N: n })).toMatch(/^ {2}N: /m);
    }
    expect(
      parseEnv(schema, { REDIS_URL: "redis://h", OPENAI_API_KEY: "sk-0123456789", N: " 42 " }, "app").N,
    ).toBe(42);
  });
});
