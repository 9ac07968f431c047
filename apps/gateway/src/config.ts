import { appSchema, type Env, intSetting, parseEnv } from "@batch-gpt/config";
import { z } from "zod";

export const SERVING_MODES = ["sync", "async", "cache"] as const;
export type ServingMode = (typeof SERVING_MODES)[number];

const schema = appSchema.extend({
  PORT: intSetting(0, 65535).default(8080),
  CLIENT_SERVING_MODE: z.enum(SERVING_MODES).default("sync"),
  /** Unset = cached answers never expire. */
  CACHE_TTL_SECONDS: intSetting(1).optional(),
  /** Request bodies above this get 413. Mongo's document limit is 16 MiB, so stay well below it. */
  MAX_BODY_BYTES: intSetting(1024, 15 * 1024 * 1024).default(8 * 1024 * 1024),
  SSE_KEEPALIVE_MS: intSetting(100).default(15_000),
  /** How long an async call's id is kept in Redis (it is in MongoDB too, for good). */
  CALL_REDIS_TTL_SECONDS: intSetting(60).default(86_400),
  /** How often held callers re-check the store, covering wake-ups lost while Redis reconnected. */
  WAITER_RECHECK_MS: intSetting(100).default(30_000),
});

export type GatewayConfig = z.infer<typeof schema>;

export const loadGatewayConfig = (env: Env): GatewayConfig => parseEnv(schema, env, "gateway");
