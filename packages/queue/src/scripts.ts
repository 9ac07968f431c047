import type { Redis } from "ioredis";

/** A Lua script run as a command of its connection, by name (ioredis's `defineCommand`). */
export interface RedisScript {
  numberOfKeys: number;
  lua: string;
}

export type RedisScripts = Readonly<Record<string, RedisScript>>;

/**
 * `redis` typed with the commands `scripts` define. They must have been defined when the connection was
 * created (`createRedis`): a `client` connection batches each turn's commands into one pipeline, and a
 * script defined after that pipeline was built is missing from it, which failed the call and then threw
 * an uncaught error out of ioredis.
 */
export function scriptCommands<Commands>(redis: Redis, scripts: RedisScripts): Redis & Commands {
  const r = redis as unknown as Record<string, unknown>;
  for (const name of Object.keys(scripts)) {
    if (typeof r[name] !== "function")
      throw new Error(
        `this Redis connection has no ${name} script: create it with createRedis and its scripts`,
      );
  }
  return redis as Redis & Commands;
}
