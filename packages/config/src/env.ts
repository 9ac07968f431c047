import { z } from "zod";

export type Env = Record<string, string | undefined>;

/** Thrown when a setting is missing or malformed; the message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses `env` with a zod schema whose keys are the variable names, so every issue can name the
 * variable it is about. Empty strings count as unset.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env, app: string): z.infer<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(environment)";
    const value = cleaned[name];
    if (value === undefined && issue.code === "invalid_type") return `  ${name}: is required but not set`;
    return `  ${name}: ${issue.message}${value === undefined ? "" : ` (got "${value}")`}`;
  });
  throw new ConfigError(`${app}: invalid settings\n${lines.join("\n")}`);
}

/** Integer settings arrive as strings; coerce and bound them. */
export const intSetting = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);
