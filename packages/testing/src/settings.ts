import { ConfigError, type Env } from "@batch-gpt/config";
import { expect } from "vitest";

/** The message of the ConfigError `load` refuses `env` with; fails the test when it is accepted. */
export function settingsRefusal(load: (env: Env) => unknown, env: Env): string {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected the settings to be refused");
}

/** The defaults every app's settings share (connections, provider, hot path), given the two required ones. */
export const COMMON_DEFAULTS = {
  OPENAI_BASE_URL: "https://api.openai.com/v1",
  PROVIDER_TIMEOUT_MS: 120_000,
  MONGO_PORT: 27017,
  MONGO_USER: "admin",
  MONGO_PASSWORD: "password",
  MONGO_DATABASE: "batchgpt",
  BULL_PREFIX: "batchgpt",
  ANSWER_CARRY_MAX_BYTES: 65536,
  ANSWER_REDIS_TTL_SECONDS: 900,
  CACHE_REDIS_MAX_ENTRY_BYTES: 65536,
  CACHE_REDIS_TTL_SECONDS: 3600,
  CACHE_MARKER_TTL_SECONDS: 2_592_000,
};
