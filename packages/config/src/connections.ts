import { z } from "zod";
import { ConfigError } from "./env.ts";

/** Where Redis and MongoDB are. Apps never start servers: a missing address is a clear error. */
export const connectionSchema = z.object({
  REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL"),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, "must be a mongodb:// URL")
    .optional(),
  MONGO_HOST: z.string().optional(),
  MONGO_PORT: z.coerce.number().int().min(1).max(65535).default(27017),
  MONGO_USER: z.string().default("admin"),
  MONGO_PASSWORD: z.string().default("password"),
  MONGO_DATABASE: z.string().default("batchgpt"),
  BULL_PREFIX: z.string().default("batchgpt"),
});
export type ConnectionSettings = z.infer<typeof connectionSchema>;

export interface MongoTarget {
  uri: string;
  dbName: string;
}

/** `MONGODB_URI` wins (its path names the database, else `MONGO_DATABASE`); else the seed's `MONGO_*`. */
export function resolveMongo(settings: ConnectionSettings): MongoTarget {
  if (settings.MONGODB_URI) {
    const path = uriPath(settings.MONGODB_URI);
    return { uri: settings.MONGODB_URI, dbName: decodeURIComponent(path) || settings.MONGO_DATABASE };
  }
  if (settings.MONGO_HOST) {
    const user = encodeURIComponent(settings.MONGO_USER);
    const password = encodeURIComponent(settings.MONGO_PASSWORD);
    return {
      uri: `mongodb://${user}:${password}@${settings.MONGO_HOST}:${settings.MONGO_PORT}/?authSource=admin`,
      dbName: settings.MONGO_DATABASE,
    };
  }
  throw new ConfigError(
    "MONGODB_URI is not set (nor MONGO_HOST): say where MongoDB is, e.g. mongodb://127.0.0.1:27017/batchgpt",
  );
}

/** The URI's path; a malformed URI is a settings error that never quotes it (it may hold a password). */
function uriPath(uri: string): string {
  try {
    return new URL(uri.replace(/^mongodb(\+srv)?:/, "http:")).pathname.slice(1);
  } catch {
    throw new ConfigError(
      "MONGODB_URI is not a valid URL (e.g. mongodb://USER:PASSWORD@HOST:27017/batchgpt)",
    );
  }
}
