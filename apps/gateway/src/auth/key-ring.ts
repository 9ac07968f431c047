import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Logger } from "@batch-gpt/config";
import { type ApiKeyDoc, envKeyIdentity, type KeyRole } from "@batch-gpt/contracts";
import type { ApiKeyStore } from "@batch-gpt/store";
import type { Redis } from "ioredis";

/** Who is calling: what every authenticated route sees as `c.get("caller")`. */
export interface Caller {
  /** The key's public id (quotas are counted per key). */
  keyId: string;
  tenant: string;
  role: KeyRole;
  /** Models the key may request; null = any. */
  models: ReadonlySet<string> | null;
  /** Requests per minute; null = unlimited. */
  rpm: number | null;
  /** Requests pending at once; null = unlimited. */
  maxPending: number | null;
}

/** With no keys configured at all: one local caller, allowed everything (the gateway listens on loopback). */
export const LOCAL_CALLER: Caller = {
  keyId: "local",
  tenant: "anonymous",
  role: "admin",
  models: null,
  rpm: null,
  maxPending: null,
};

// One-shot: a Hash object per request cost more than the digest itself.
export const hashKey = (key: string) => hash("sha256", key, "buffer");

/** A new gateway key: 32 random bytes, recognisable by its prefix. */
export const newGatewayKey = () => `bgk-${randomBytes(32).toString("base64url")}`;
export const newKeyId = () => `key_${randomBytes(8).toString("hex")}`;

export interface KeyDefaults {
  rpm: number | null;
  maxPending: number | null;
}

/**
 * Every key this gateway accepts, in memory: keys from the environment (GATEWAY_API_KEYS,
 * GATEWAY_ADMIN_KEYS) and the stored ones. A key is checked by its SHA-256 in a map, then the digests are
 * compared in constant time. Stored keys are reloaded from MongoDB only when Redis's keys version moves
 * (bumped by every create and revoke), looked at every `refreshMs`: a revoked key stops working on
 * every gateway within that time, and no request reads MongoDB.
 */
interface Entry {
  /** The stored digest, compared with the presented key's. */
  digest: Buffer;
  caller: Caller;
}

export class KeyRing {
  readonly #fromEnv = new Map<string, Entry>();
  #stored = new Map<string, Entry>();
  readonly #store: ApiKeyStore;
  readonly #redis: Redis;
  readonly #versionKey: string;
  readonly #defaults: KeyDefaults;
  readonly #log: Logger;
  /** The version last loaded (null: none was ever set); undefined until the first load. */
  #version: string | null | undefined = undefined;
  #refreshing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: {
    apiKeys: string[];
    adminKeys: string[];
    store: ApiKeyStore;
    redis: Redis;
    versionKey: string;
    defaults: KeyDefaults;
    log: Logger;
  }) {
    this.#store = opts.store;
    this.#redis = opts.redis;
    this.#versionKey = opts.versionKey;
    this.#defaults = opts.defaults;
    this.#log = opts.log;
    // Each key from the environment is a tenant of its own, named after its digest (stable across
    // restarts; a stored key is the way to keep a tenant's name when its key is rotated).
    for (const [keys, role] of [
      [opts.apiKeys, "client"],
      [opts.adminKeys, "admin"],
    ] as const) {
      for (const key of keys) {
        const digest = hashKey(key);
        const hex = digest.toString("hex");
        const caller: Caller = {
          ...envKeyIdentity(hex, role),
          role,
          models: null,
          ...opts.defaults,
        };
        this.#fromEnv.set(hex, { digest, caller });
      }
    }
  }

  /** Loads the stored keys, then watches the version. */
  async start(refreshMs: number): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((err: Error) => this.#log.warn({ err: err.message }, "could not refresh keys"));
    }, refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Reloads the stored keys if the version moved since the last load (or `force`). One at a time: a
   * timer's refresh while one is under way joins it (behind a slow store they piled up, one per tick,
   * each its own read); a forced one goes after it, so it reads what was just changed.
   */
  async refresh(force = false): Promise<void> {
    if (!force && this.#refreshing) return this.#refreshing;
    const previous = this.#refreshing;
    const next = (async () => {
      await previous?.catch(() => {});
      await this.#load(force);
    })();
    this.#refreshing = next;
    try {
      await next;
    } finally {
      if (this.#refreshing === next) this.#refreshing = null;
    }
  }

  async #load(force: boolean): Promise<void> {
    const version = await this.#redis.get(this.#versionKey);
    // No version yet (no key was ever made through the API) is a version too: nothing to reload.
    if (!force && this.#version !== undefined && version === this.#version) return;
    const docs = await this.#store.list();
    this.#stored = new Map(
      docs
        .filter((d) => !d.revokedAt)
        .map((d) => [d.hash, { digest: Buffer.from(d.hash, "hex"), caller: this.#callerOf(d) }]),
    );
    this.#version = version;
  }

  /** After this gateway created or revoked a key: every gateway reloads (this one at once). */
  async changed(): Promise<void> {
    await this.#redis.incr(this.#versionKey);
    await this.refresh(true);
  }

  /** True when no key is configured anywhere: local use, every route open. */
  get open(): boolean {
    return this.#fromEnv.size === 0 && this.#stored.size === 0;
  }

  /** The caller a presented key belongs to, or null for an unknown or revoked key. */
  lookup(presented: string): Caller | null {
    const digest = hashKey(presented);
    const hex = digest.toString("hex");
    const entry = this.#fromEnv.get(hex) ?? this.#stored.get(hex);
    // The map found it by its digest; the digests are compared once more, in constant time.
    return entry && timingSafeEqual(entry.digest, digest) ? entry.caller : null;
  }

  #callerOf(doc: ApiKeyDoc): Caller {
    return {
      keyId: doc._id,
      tenant: doc.tenant,
      role: doc.role,
      models: doc.models?.length ? new Set(doc.models) : null,
      rpm: doc.rpm ?? this.#defaults.rpm,
      maxPending: doc.maxPending ?? this.#defaults.maxPending,
    };
  }
}
