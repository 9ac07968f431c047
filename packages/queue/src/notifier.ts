import { type DoneMessage, FORMAT_VERSION, type Outcome, type RedisKeys } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";

/** A finished request to announce; `outcome` null means "read it from the store". */
export interface Announcement {
  requestId: string;
  outcome: Outcome | null;
}

/** What Redis says about a request's outcome: the outcome, "stored" (too large here: read MongoDB), or nothing. */
export type Peeked = Outcome | "stored" | null;

/**
 * Announces that requests reached a terminal state, after they were stored. A small outcome travels
 * in the message and is kept under `answer:<id>` for a while, so neither a woken gateway nor a caller
 * registering just as the request finished reads MongoDB. The key is written before the message, so a
 * waiter that registers and then peeks cannot miss both.
 */
export class DonePublisher {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #carryMaxBytes: number;
  readonly #ttlSeconds: number;

  constructor(redis: Redis, keys: RedisKeys, opts: { carryMaxBytes: number; ttlSeconds: number }) {
    this.#redis = redis;
    this.#keys = keys;
    this.#carryMaxBytes = opts.carryMaxBytes;
    this.#ttlSeconds = opts.ttlSeconds;
  }

  async publish(announcements: Announcement[]): Promise<void> {
    if (announcements.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const { requestId, outcome } of announcements) {
      // Measured in characters first: only a body that may be over the limit is measured in bytes.
      const body = outcome?.answer.body;
      const carried =
        outcome &&
        (body!.length * 3 <= this.#carryMaxBytes || Buffer.byteLength(body!) <= this.#carryMaxBytes)
          ? outcome
          : null;
      // The outcome is serialised once, for the key and the message (a 50,000-line batch's answers
      // were serialised twice over).
      const json = carried ? JSON.stringify({ state: carried.state, answer: carried.answer }) : "";
      pipeline.set(this.#keys.answer(requestId), json, "EX", this.#ttlSeconds);
      const message = carried
        ? `{"requestId":${JSON.stringify(requestId)},"v":${FORMAT_VERSION},"outcome":${json}}`
        : JSON.stringify({ requestId } satisfies DoneMessage);
      pipeline.publish(this.#keys.doneChannel, message);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
  }
}

/** Reads outcomes announced recently, from Redis only. */
export class RecentAnswers {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;

  constructor(redis: Redis, keys: RedisKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  async peek(requestId: string): Promise<Peeked> {
    return parsePeeked(await this.#redis.get(this.#keys.answer(requestId)));
  }

  /** Many at once, one command each (pipelined; keys of a cluster may sit on different nodes). */
  async peekMany(requestIds: string[]): Promise<Peeked[]> {
    const pipeline = this.#redis.pipeline();
    for (const id of requestIds) pipeline.get(this.#keys.answer(id));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) => (error ? null : parsePeeked(value as string | null)));
  }
}

function parsePeeked(value: string | null): Peeked {
  if (value === null) return null;
  if (value === "") return "stored";
  try {
    return JSON.parse(value) as Outcome;
  } catch {
    return "stored";
  }
}

/**
 * One subscriber connection per process. Every "done" message fans out to `onDone`; after a
 * reconnect `onResync` runs, because messages published while disconnected are lost.
 */
export class DoneSubscriber {
  readonly #redis: Redis;
  readonly #channel: string;
  #ready: Promise<unknown>;

  constructor(
    redis: Redis,
    keys: RedisKeys,
    handlers: { onDone(message: DoneMessage): void; onResync(): void },
  ) {
    this.#redis = redis;
    this.#channel = keys.doneChannel;
    let connectedOnce = false;
    redis.on("message", (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      let parsed: DoneMessage;
      try {
        parsed = JSON.parse(message) as DoneMessage;
      } catch {
        return; // A malformed message is not ours to act on.
      }
      if (typeof parsed?.requestId === "string") handlers.onDone(parsed);
    });
    redis.on("ready", () => {
      if (connectedOnce) handlers.onResync();
      connectedOnce = true;
    });
    this.#ready = redis.subscribe(this.#channel);
  }

  /** Resolves once the subscription is live: waiters registered after this cannot miss a message. */
  ready(): Promise<unknown> {
    return this.#ready;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => {});
  }
}
