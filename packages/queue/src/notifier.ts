import type { DoneMessage, RedisKeys } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";

/** Announces that requests reached a terminal state. Store first, then publish. */
export class DonePublisher {
  readonly #redis: Redis;
  readonly #channel: string;

  constructor(redis: Redis, keys: RedisKeys) {
    this.#redis = redis;
    this.#channel = keys.doneChannel;
  }

  async publish(requestIds: string[]): Promise<void> {
    if (requestIds.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const requestId of requestIds)
      pipeline.publish(this.#channel, JSON.stringify({ requestId } satisfies DoneMessage));
    await pipeline.exec();
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

  constructor(redis: Redis, keys: RedisKeys, handlers: { onDone(id: string): void; onResync(): void }) {
    this.#redis = redis;
    this.#channel = keys.doneChannel;
    let connectedOnce = false;
    redis.on("message", (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      try {
        handlers.onDone((JSON.parse(message) as DoneMessage).requestId);
      } catch {
        // A malformed message is not ours to act on.
      }
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
