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
