import type { AdminKeys, FlushMessage } from "@batch-gpt/contracts";
import type { Redis } from "ioredis";

/**
 * "Collate this model now", from an operator to every collator: a message on Redis pub/sub. A collator
 * that is not running has nothing held to flush, so a lost message loses nothing; the number of
 * receivers is what PUBLISH returns.
 */
export async function publishFlush(redis: Redis, keys: AdminKeys, model: string | null): Promise<number> {
  const message: FlushMessage = { model };
  return redis.publish(keys.flushChannel, JSON.stringify(message));
}

/** Subscribes `connection` (a connection of its own: subscribing takes it over) to flush signals. */
export async function onFlush(
  connection: Redis,
  keys: AdminKeys,
  handle: (message: FlushMessage) => void,
): Promise<void> {
  connection.on("message", (channel: string, text: string) => {
    if (channel !== keys.flushChannel) return;
    try {
      const parsed = JSON.parse(text) as Partial<FlushMessage>;
      handle({ model: typeof parsed.model === "string" ? parsed.model : null });
    } catch {
      // Not a flush message: nothing to do.
    }
  });
  await connection.subscribe(keys.flushChannel);
}
