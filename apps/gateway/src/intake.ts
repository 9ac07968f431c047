import {
  ApiError,
  CALL_ID_PREFIX,
  type CallDoc,
  type CollateJob,
  collateQueue,
  type Endpoint,
  FORMAT_VERSION,
  isPlainId,
  newCallId,
  newRequestId,
  type Outcome,
  type RequestState,
  requestKey,
} from "@batch-gpt/contracts";
import {
  type CacheTier,
  type Inflight,
  QUEUE_FULL,
  type QueueRegistry,
  type RecentAnswers,
} from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import type { CallRegistry } from "./calls.ts";
import type { ServingMode } from "./config.ts";
import type { Locate } from "./locate.ts";
import { PendingCalls } from "./pending-calls.ts";
import { callNotFound, lostRequest, shuttingDown } from "./responses.ts";
import type { Waiters, WaitResult } from "./waiters.ts";

type Json = Record<string, unknown>;

/** A request to one of the batched endpoints, validated and shaped for intake. */
export interface IntakeRequest {
  endpoint: Endpoint;
  /** The client scope: requests and async calls belong to it. */
  tenant: string;
  /**
   * The cache and dedup scope: the tenant, or one scope shared by every tenant (CACHE_SCOPE=shared).
   * Identical requests attach to each other, and answers are cached, within it.
   */
  scope: string;
  /** The key that made the request (async calls remember it, to give its quota place back). */
  keyId: string;
  /** An async call's id, chosen before intake (its quota place is held under it). */
  callId?: string;
  /** The body a batch line carries: the client's own text (delivery fields stripped when streaming). */
  raw: string;
  body: Json;
  traceId: string;
  mode: ServingMode;
  stream: boolean;
  /** False for `cache-control: no-cache`: the answer is not taken from the cache (it is still stored). */
  useCache: boolean;
}

/** A request's key, and its answer when Redis's cache tier has it (null: not there, or not looked). */
export interface TierLookup {
  key: string;
  hot: string | null;
}

/** What became of a request at intake. */
export type IntakeResult =
  /** Answered from the cache; nothing was queued. */
  | { kind: "cached"; body: string }
  /** Async: queued (or attached to an identical request in flight); the caller fetches it by `call.id`. */
  | { kind: "accepted"; call: { id: string; created: number } }
  /** Sync or streamed: queued (or attached); the caller is held until `wait` gives its outcome. */
  | { kind: "pending"; requestId: string; key: string; attached: boolean };

/** An async call as its caller fetches it: finished, or still pending in some state. */
export type CallLookup =
  | { kind: "finished"; outcome: Outcome }
  | { kind: "pending"; call: { id: string; endpoint: Endpoint; created: number }; state: RequestState };

/**
 * Turns an accepted request into an answer or a pending request id: from the cache, by attaching to an
 * identical request already in flight, or as a new request whose first attempt is queued for the
 * collator. Then gives held callers their outcome, and async callers their call.
 */
export class Intake {
  readonly #store: Store;
  readonly #inflight: Inflight;
  readonly #tier: CacheTier;
  readonly #calls: CallRegistry;
  readonly #pending: PendingCalls;
  readonly #queues: QueueRegistry;
  readonly #waiters: Waiters;
  readonly #locate: Locate;
  readonly #provider: string;
  readonly #cacheTtlSeconds: number | undefined;
  readonly #onCacheLookup: (hit: boolean) => void;
  readonly #onQueued: (req: IntakeRequest, requestId: string, attached: boolean) => void;

  constructor(opts: {
    store: Store;
    inflight: Inflight;
    tier: CacheTier;
    calls: CallRegistry;
    recent: RecentAnswers;
    queues: QueueRegistry;
    waiters: Waiters;
    locate: Locate;
    provider: string;
    cacheTtlSeconds: number | undefined;
    /** Told the result of every cache lookup (the admin figures count them). */
    onCacheLookup?: (hit: boolean) => void;
    /** Told of every request queued, or attached to an identical one in flight (metrics and logs). */
    onQueued?: (req: IntakeRequest, requestId: string, attached: boolean) => void;
  }) {
    this.#store = opts.store;
    this.#inflight = opts.inflight;
    this.#tier = opts.tier;
    this.#calls = opts.calls;
    this.#pending = new PendingCalls({ store: opts.store, queues: opts.queues, recent: opts.recent });
    this.#queues = opts.queues;
    this.#waiters = opts.waiters;
    this.#locate = opts.locate;
    this.#provider = opts.provider;
    this.#cacheTtlSeconds = opts.cacheTtlSeconds;
    this.#onCacheLookup = opts.onCacheLookup ?? (() => {});
    this.#onQueued = opts.onQueued ?? (() => {});
  }

  /**
   * The request's key and, when Redis's tier holds its answer, that answer (one read; the hit path
   * touches nothing else). Looked at before the caller is admitted, so that a hit, answered at once,
   * takes no place among its key's pending requests. Counted as a lookup only by `submit`.
   */
  async lookup(req: IntakeRequest): Promise<TierLookup> {
    const key = requestKey(req.scope, req.endpoint, req.body);
    return { key, hot: req.useCache ? await this.#fromTier(key) : null };
  }

  /** `looked`: what `lookup` found for this request (looked up here when not given). */
  async submit(req: IntakeRequest, looked?: TierLookup): Promise<IntakeResult> {
    const { key, hot } = looked ?? (await this.lookup(req));
    // A cached answer: Redis's tier first. Then MongoDB, but only when Redis's `cached` marker says it
    // has the answer: a miss never reads MongoDB (on FerretDB v1 a lookup that finds nothing scans the
    // collection). Every Redis command is a write on the connection, and those writes are most of a
    // request's cost: hence the fewest commands.
    if (hot !== null) {
      this.#onCacheLookup(true);
      return { kind: "cached", body: hot };
    }
    if (req.mode === "cache") {
      const stored = req.useCache && (await this.#inflight.isCached(key)) ? await this.#fromStore(key) : null;
      if (req.useCache) this.#onCacheLookup(stored !== null);
      if (stored !== null) return { kind: "cached", body: stored };
      throw new ApiError(404, "No cached answer for this request (x-batch-mode: cache).", {
        code: "cache_miss",
      });
    }
    // The call is recorded while its job is added (an add that fails answers 503 all the same).
    const alongside = req.mode === "async" ? (id: string) => this.#recordCall(req, id, key) : undefined;
    const queued = await this.#enqueue(req, key, alongside);
    if (req.useCache) this.#onCacheLookup(queued.kind === "cached");
    if (queued.kind === "cached") return queued;
    if (req.mode === "async") return { kind: "accepted", call: queued.alongside! };
    return { kind: "pending", requestId: queued.requestId, key, attached: queued.attached };
  }

  async #fromTier(key: string): Promise<string | null> {
    const ttl = this.#cacheTtlSeconds;
    const hot = await this.#tier.get(key);
    return hot && (ttl === undefined || hot.storedAt + ttl * 1000 > Date.now()) ? hot.body : null;
  }

  /**
   * The cache's answer (the marker said it is there): from Redis's tier, which may have it since this
   * request looked (a batch settling meanwhile marks its answers cached once they are in the tier,
   * before MongoDB has them), else from MongoDB, put back in the tier.
   */
  async #fromStore(key: string): Promise<string | null> {
    const hot = await this.#fromTier(key);
    if (hot !== null) return hot;
    const ttl = this.#cacheTtlSeconds;
    const entry = await this.#store.cache.get(key, ttl);
    if (!entry) return null;
    const storedAt = entry.createdAt.getTime();
    const left = ttl === undefined ? undefined : ttl - Math.floor((Date.now() - storedAt) / 1000);
    await this.#tier.putMany([
      { key, body: entry.body, storedAt, ...(left === undefined ? {} : { ttlSeconds: left }) },
    ]);
    return entry.body;
  }

  /**
   * Holds the caller until its request finishes. Rejects with the caller's error when there will be no
   * outcome: the request was lost (its dedup key is freed, so a retry starts afresh) or this gateway is
   * shutting down (the request goes on; a retry attaches to it elsewhere).
   */
  wait(
    pending: { requestId: string; key: string; attached: boolean; onSettled?: () => void },
    signal?: AbortSignal,
  ): Promise<Outcome> {
    // A chain, not an async function: a held caller keeps no suspended frame here, only the chain.
    const { requestId, key } = pending;
    return this.#waiters
      .wait(requestId, signal, { attached: pending.attached })
      .finally(pending.onSettled)
      .then((result) => this.#outcomeOf(result, key, requestId));
  }

  async #outcomeOf(result: WaitResult, key: string, requestId: string): Promise<Outcome> {
    if (result === "shutdown") throw shuttingDown();
    if (result === "lost") {
      await this.#inflight.release(key, requestId).catch(() => {});
      throw lostRequest();
    }
    return result;
  }

  /** An async call by id, for its own tenant only (another tenant's call is as unknown as a wrong id). */
  /** `answered` runs when the caller is given its outcome (or told its request was lost). */
  async retrieve(
    id: string,
    tenant: string,
    endpoint: Endpoint | null,
    answered: (call: CallDoc) => void = () => {},
  ): Promise<CallLookup> {
    if (!isPlainId(id)) throw callNotFound(id);
    const call = await this.#calls.get(id);
    if (!call || call.owner !== tenant || (endpoint && call.endpoint !== endpoint)) throw callNotFound(id);
    // Redis first; MongoDB seldom (see PendingCalls): clients fetch a pending call again and again.
    const progress = await this.#pending.progress(call.requestId);
    if (progress.kind === "finished") {
      answered(call);
      return { kind: "finished", outcome: progress.outcome };
    }
    if (progress.kind === "lost") {
      answered(call);
      // Free its key, as a held caller's loss does: identical calls start afresh, not attach to a ghost.
      if (call.key) await this.#inflight.release(call.key, call.requestId).catch(() => {});
      throw lostRequest();
    }
    const created = Math.floor(call.createdAt.getTime() / 1000);
    return {
      kind: "pending",
      call: { id: call._id, endpoint: call.endpoint, created },
      state: progress.state,
    };
  }

  /** The id of the pending request that will answer `req`: an identical one in flight, or a new one. */
  /**
   * `alongside` runs once the request's id is known, at the same time as its job is added (one round
   * trip less per request); its result comes back with the id.
   */
  async #enqueue<T>(
    req: IntakeRequest,
    key: string,
    alongside?: (requestId: string) => Promise<T>,
  ): Promise<
    | { kind: "cached"; body: string }
    | { kind: "queued"; requestId: string; attached: boolean; alongside: T | undefined }
  > {
    const requestId = newRequestId();
    // Claimed in the same round trip as the cache marker is looked at and the queue's room is taken.
    const bytes = Buffer.byteLength(req.raw);
    let leader = await this.#inflight.claimUnlessCached(key, requestId, req.useCache, bytes);
    if (leader === null) {
      const stored = await this.#fromStore(key);
      if (stored !== null) return { kind: "cached", body: stored };
      // The marker outlived its entry (CACHE_TTL_SECONDS): claim after all.
      leader = await this.#inflight.claim(key, requestId, bytes);
    }
    if (leader === QUEUE_FULL) throw queueFull();
    if (leader !== requestId) {
      this.#onQueued(req, leader, true);
      return { kind: "queued", requestId: leader, attached: true, alongside: await alongside?.(leader) };
    }
    const job: CollateJob = {
      requestId,
      attempt: 0,
      owner: req.tenant,
      provider: this.#provider,
      endpoint: req.endpoint,
      model: req.body.model as string,
      body: req.raw,
      key,
      traceId: req.traceId,
      createdAt: Date.now(),
      // The collator may find it in MongoDB's cache after all (its marker expired), unless fresh was asked.
      ...(req.useCache ? { cacheFrom: this.#cacheFrom() } : {}),
      v: FORMAT_VERSION,
    };
    const beside = alongside?.(requestId);
    try {
      await this.#queues.producer(collateQueue).add(job);
    } catch {
      beside?.catch(() => {});
      // The add may have landed with only its reply lost: then the request is queued after all, and
      // freeing the key would let the client's retry become a second line.
      if ((await this.#locate(requestId).catch(() => "nowhere")) === "nowhere") {
        // Nothing was queued: free the key so the client's retry starts a clean attempt.
        await this.#inflight.release(key, requestId).catch(() => {});
        // As any request that needs an unreachable Redis (errors.ts): the SDKs retry it.
        throw new ApiError(503, "The gateway could not queue the request; please retry.", {
          type: "server_error",
          code: "service_unavailable",
          headers: { "retry-after": "1" },
        });
      }
    }
    this.#onQueued(req, requestId, false);
    return { kind: "queued", requestId, attached: false, alongside: await beside };
  }

  /** The oldest cache entry that may answer a request now (CACHE_TTL_SECONDS), epoch ms. */
  #cacheFrom(): number {
    return this.#cacheTtlSeconds === undefined ? 0 : Date.now() - this.#cacheTtlSeconds * 1000;
  }

  /** An async call: an id of its own that points at the (possibly shared) pending request. */
  async #recordCall(
    req: IntakeRequest,
    requestId: string,
    key: string,
  ): Promise<{ id: string; created: number }> {
    const id = req.callId ?? newCallId(CALL_ID_PREFIX[req.endpoint]);
    const createdAt = new Date();
    await this.#calls.record({
      _id: id,
      requestId,
      owner: req.tenant,
      keyId: req.keyId,
      key,
      endpoint: req.endpoint,
      createdAt,
    });
    return { id, created: Math.floor(createdAt.getTime() / 1000) };
  }
}

/** How long a caller refused for a full queue is told to wait: about a collation window and a flush. */
const QUEUE_FULL_RETRY_SECONDS = 5;

/** The queue holds MAX_QUEUED_REQUESTS or MAX_QUEUED_BYTES already: OpenAI's 429, at once. */
const queueFull = () =>
  new ApiError(
    429,
    `Too many requests are waiting to be batched right now. Please try again in ${QUEUE_FULL_RETRY_SECONDS}s.`,
    {
      type: "requests",
      code: "queue_full",
      headers: { "retry-after": String(QUEUE_FULL_RETRY_SECONDS) },
    },
  );
