import { z } from "zod";
import { connectionSchema } from "./connections.ts";
import { intSetting } from "./env.ts";
import { providerSchema } from "./provider-settings.ts";

const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * What the hot path keeps in Redis, so waking a caller and serving a cache hit touch Redis only.
 * Read by every app: the collator and the poller write these entries, the gateway reads them.
 */
export const hotPathSchema = z.object({
  /** Answers up to this size travel in the wake-up itself and stay in Redis for ANSWER_REDIS_TTL_SECONDS. */
  ANSWER_CARRY_MAX_BYTES: intSetting(0, MAX_DOCUMENT_BYTES).default(64 * 1024),
  ANSWER_REDIS_TTL_SECONDS: intSetting(1).default(900),
  /** Cached answers up to this size are served from Redis; larger ones from MongoDB. */
  CACHE_REDIS_MAX_ENTRY_BYTES: intSetting(0, MAX_DOCUMENT_BYTES).default(64 * 1024),
  /** How long a cached answer stays in Redis after it was stored or last read from MongoDB; 0 = no Redis tier. */
  CACHE_REDIS_TTL_SECONDS: intSetting(0).default(3600),
  /**
   * How long the "cached" marker of an answer stays in Redis after it was stored: a miss is told by its
   * absence without reading MongoDB. After that the collator looks the request up in MongoDB's cache.
   */
  CACHE_MARKER_TTL_SECONDS: intSetting(1).default(30 * 24 * 3600),
});
export type HotPathSettings = z.infer<typeof hotPathSchema>;

/** What every app reads: where Redis, MongoDB and the provider are, and the hot path's Redis entries. */
export const appSchema = connectionSchema.extend(providerSchema.shape).extend(hotPathSchema.shape);
export type AppSettings = z.infer<typeof appSchema>;
