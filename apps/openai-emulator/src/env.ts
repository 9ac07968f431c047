/** The emulator's environment, parsed once at start with a clear message naming a bad variable. */
import { z } from "zod";
import type { EmulatorOptions } from "./app.ts";
import type { FaultSpec } from "./faults.ts";

const count = z.coerce.number().int().min(0);

export const envSchema = z.object({
  EMULATOR_PORT: z.coerce.number().int().min(0).max(65_535).default(8090),
  EMULATOR_HOST: z.string().min(1).default("127.0.0.1"),
  EMULATOR_BATCH_DURATION_MS: z.coerce.number().int().min(0).default(3000),
  EMULATOR_API_KEYS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? "")
        .split(",")
        .map((k) => k.trim())
        .filter((k) => k !== ""),
    ),
  EMULATOR_STATE_DIR: z.string().min(1).optional(),
  EMULATOR_FAIL_UPLOADS: count.default(0),
  EMULATOR_FAIL_BATCH_CREATES: count.default(0),
  EMULATOR_FAIL_BATCH_RETRIEVES: count.default(0),
  EMULATOR_RATE_LIMIT_BATCH_CREATES: count.default(0),
});

export type EmulatorEnv = z.output<typeof envSchema>;

export function parseEnv(env: Record<string, string | undefined>): EmulatorEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid openai-emulator environment:\n${lines.join("\n")}`);
  }
  return result.data;
}

export function optionsFromEnv(env: EmulatorEnv): EmulatorOptions & { port: number; host: string } {
  const faults: FaultSpec[] = [];
  if (env.EMULATOR_FAIL_UPLOADS > 0)
    faults.push({ target: "files.create", status: 500, times: env.EMULATOR_FAIL_UPLOADS });
  if (env.EMULATOR_FAIL_BATCH_CREATES > 0) {
    faults.push({ target: "batches.create", status: 500, times: env.EMULATOR_FAIL_BATCH_CREATES });
  }
  if (env.EMULATOR_RATE_LIMIT_BATCH_CREATES > 0) {
    faults.push({
      target: "batches.create",
      status: 429,
      times: env.EMULATOR_RATE_LIMIT_BATCH_CREATES,
      retryAfterSeconds: 1,
    });
  }
  if (env.EMULATOR_FAIL_BATCH_RETRIEVES > 0) {
    faults.push({ target: "batches.retrieve", status: 500, times: env.EMULATOR_FAIL_BATCH_RETRIEVES });
  }
  return {
    port: env.EMULATOR_PORT,
    host: env.EMULATOR_HOST,
    batchDurationMs: env.EMULATOR_BATCH_DURATION_MS,
    apiKeys: env.EMULATOR_API_KEYS,
    ...(env.EMULATOR_STATE_DIR ? { stateDir: env.EMULATOR_STATE_DIR } : {}),
    faults,
  };
}
