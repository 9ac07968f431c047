import { appSchema, boolSetting, type Env, intSetting, parseEnv } from "@batch-gpt/config";
import { z } from "zod";

export const SERVING_MODES = ["sync", "async", "cache"] as const;
export type ServingMode = (typeof SERVING_MODES)[number];

/** A comma-separated list of keys; blanks are dropped. */
const keyList = z
  .string()
  .default("")
  .transform((value) =>
    value
      .split(",")
      .map((key) => key.trim())
      .filter((key) => key.length > 0),
  );

const schema = appSchema.extend({
  PORT: intSetting(0, 65535).default(8080),
  /**
   * Where to listen. Unset: every interface when keys are configured, loopback (127.0.0.1) when not.
   * A non-loopback address without keys is refused unless GATEWAY_UNSAFE_NO_AUTH=true.
   */
  HOST: z.string().min(1).optional(),
  /** Client keys, comma-separated: each is a tenant of its own. */
  GATEWAY_API_KEYS: keyList,
  /** Admin keys, comma-separated: batches, the operator API, dashboards and metrics. */
  GATEWAY_ADMIN_KEYS: keyList,
  /** Listen beyond loopback with no keys at all (everyone may spend the provider key). */
  GATEWAY_UNSAFE_NO_AUTH: boolSetting,
  /** Lets scrapers read /metrics without a key. */
  METRICS_OPEN: boolSetting,
  /** How often each gateway looks for created or revoked keys (a revoked key stops working within it). */
  KEYS_REFRESH_MS: intSetting(100).default(2000),
  /** Cache and in-flight dedup per tenant (default), or shared by every tenant. */
  CACHE_SCOPE: z.enum(["tenant", "shared"]).default("tenant"),
  /** Default requests per minute per key (a stored key may set its own); unset = unlimited. */
  DEFAULT_KEY_RPM: intSetting(1).optional(),
  /** Default requests pending at once per key (a stored key may set its own); unset = unlimited. */
  DEFAULT_KEY_MAX_PENDING: intSetting(1).optional(),
  /** How long an async request counts as pending when its answer is never fetched. */
  QUOTA_ASYNC_PENDING_SECONDS: intSetting(1).default(86_400),
  /** How long a held caller's pending place lasts unless its gateway renews it (a dead gateway's places free themselves). */
  QUOTA_LEASE_MS: intSetting(300).default(60_000),
  CLIENT_SERVING_MODE: z.enum(SERVING_MODES).default("sync"),
  /** Unset = cached answers never expire. */
  CACHE_TTL_SECONDS: intSetting(1).optional(),
  /** Request bodies above this get 413. Mongo's document limit is 16 MiB, so stay well below it. */
  MAX_BODY_BYTES: intSetting(1024, 15 * 1024 * 1024).default(8 * 1024 * 1024),
  /**
   * Admission control: new requests waiting for a collator, across every gateway (counted in Redis);
   * past it a new request gets 429 at once. Jobs carry their bodies and Redis runs with noeviction.
   */
  MAX_QUEUED_REQUESTS: intSetting(1).default(100_000),
  /** The same bound on their bodies' bytes (one request is taken whatever its size when none waits). */
  MAX_QUEUED_BYTES: intSetting(1024).default(1024 * 1024 * 1024),
  /** Bodies nested deeper than this (objects and arrays) get 400. */
  MAX_JSON_DEPTH: intSetting(2, 10_000).default(64),
  /** Bodies with a longer string (decoded characters) get 400; OpenAI's limit is 10,485,760. */
  MAX_STRING_CHARS: intSetting(1).default(10_485_760),
  /** Chat bodies with more messages get 400 (OpenAI's limit is 2,048). */
  MAX_MESSAGES: intSetting(1).default(2048),
  SSE_KEEPALIVE_MS: intSetting(100).default(15_000),
  /** How long an async call's id is kept in Redis (it is in MongoDB too, for good). */
  CALL_REDIS_TTL_SECONDS: intSetting(60).default(86_400),
  /** With MongoDB unreachable, a request that needs it fails (503) after this long instead of waiting. */
  MONGO_FAIL_FAST_MS: intSetting(100).default(1000),
  /** How often held callers re-check the store, covering wake-ups lost while Redis reconnected. */
  WAITER_RECHECK_MS: intSetting(100).default(30_000),
});

export type GatewayConfig = z.infer<typeof schema>;

export const loadGatewayConfig = (env: Env): GatewayConfig => parseEnv(schema, env, "gateway");
