import type { RedisKeys } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";

/**
 * The Redis tier in front of MongoDB's cache: answer bodies up to `maxEntryBytes`, each kept for
 * `ttlSeconds` after it was stored or last read from MongoDB. A hit here is one Redis read; a miss
 * falls through to MongoDB (when the `cached` marker says the answer is there). An entry is
 * `<stored at, epoch ms>:<body>`, so a reader can apply CACHE_TTL_SECONDS (which only the gateway knows).
 */
export class CacheTier {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #maxEntryBytes: number;
  readonly #ttlSeconds: number;

  constructor(redis: Redis, keys: RedisKeys, opts: { maxEntryBytes: number; ttlSeconds: number }) {
    this.#redis = redis;
    this.#keys = keys;
    this.#maxEntryBytes = opts.maxEntryBytes;
    this.#ttlSeconds = opts.ttlSeconds;
  }

  async get(key: string): Promise<{ body: string; storedAt: number } | null> {
    if (this.#ttlSeconds === 0) return null;
    const value = await this.#redis.get(this.#keys.cacheTier(key));
    const at = value?.indexOf(":") ?? -1;
    if (!value || at < 1) return null;
    return { storedAt: Number(value.slice(0, at)), body: value.slice(at + 1) };
  }

  /** The keys among `keys` whose entry is here (one EXISTS each, pipelined: a cluster's keys spread). */
  async holding(keys: string[]): Promise<Set<string>> {
    const held = new Set<string>();
    if (keys.length === 0) return held;
    const pipeline = this.#redis.pipeline();
    for (const key of keys) pipeline.exists(this.#keys.cacheTier(key));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, found], index) => {
      if (!error && found === 1) held.add(keys[index]!);
    });
    return held;
  }

  /**
   * Keeps the bodies that fit, and returns their keys (a hit for them is served from here from now on).
   * `ttlSeconds` shortens an entry's life (an answer already part-way through CACHE_TTL_SECONDS must
   * not outlive it here).
   */
  async putMany(
    entries: { key: string; body: string; storedAt?: number; ttlSeconds?: number }[],
  ): Promise<Set<string>> {
    const kept = new Set<string>();
    if (this.#ttlSeconds === 0) return kept;
    const pipeline = this.#redis.pipeline();
    const now = Date.now();
    for (const { key, body, storedAt = now, ttlSeconds } of entries) {
      const ttl = Math.min(this.#ttlSeconds, ttlSeconds ?? this.#ttlSeconds);
      // Measured in characters first: only a body that may be over the limit is measured in bytes.
      if (
        ttl <= 0 ||
        (body.length * 3 > this.#maxEntryBytes && Buffer.byteLength(body) > this.#maxEntryBytes)
      )
        continue;
      pipeline.set(this.#keys.cacheTier(key), `${storedAt}:${body}`, "EX", ttl);
      kept.add(key);
    }
    if (kept.size === 0) return kept;
    const results = (await pipeline.exec()) ?? [];
    // A write Redis refused (out of memory, say) keeps nothing.
    const written = [...kept];
    results.forEach(([error], index) => {
      if (error) kept.delete(written[index]!);
    });
    return kept;
  }
}
