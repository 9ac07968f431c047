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
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""),
  );
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(environment)";
    const value = cleaned[name];
    if (value === undefined && issue.code === "invalid_type") return `  ${name}: is required but not set`;
    const shown = value === undefined ? null : displayValue(name, value);
    return `  ${name}: ${issue.message}${shown === null ? "" : ` (got "${shown}")`}`;
  });
  throw new ConfigError(`${app}: invalid settings\n${lines.join("\n")}`);
}

/**
 * How a bad value is quoted back: never a secret (error messages reach logs). A URL's password is
 * masked; a value whose name ends in KEY(S), SECRET, PASSWORD or TOKEN is not shown at all.
 */
function displayValue(name: string, value: string): string | null {
  if (/(^|_)(KEYS?|SECRET|PASSWORD|TOKEN)$/i.test(name)) return null;
  return value.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
}

/** Integer settings arrive as strings: plain decimal digits only (no "1e3", "0x10"), then bounded. */
export const intSetting = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "expected an integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** A flag: `true`/`1` or `false`/`0`; unset = false. */
export const boolSetting = z
  .enum(["true", "false", "1", "0"])
  .default("false")
  .transform((value) => value === "true" || value === "1");
