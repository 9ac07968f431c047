import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { type LocalServer, startMongo, startRedis } from "@batch-gpt/local-services";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    mongoUri: string;
  }
}

const root = resolve(import.meta.dirname, "../../..");

/**
 * Starts one Redis and one MongoDB-compatible server for the whole run, unless REDIS_URL / MONGODB_URI
 * already point at servers. Test files isolate themselves by database name and queue prefix.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataRoot = join(root, ".data", `test-${process.pid}`);
  rmSync(dataRoot, { recursive: true, force: true });
  mkdirSync(dataRoot, { recursive: true });
  const started: LocalServer[] = [];
  const start = async (launch: () => Promise<LocalServer>) => {
    const server = await launch();
    started.push(server);
    return server.url;
  };
  const redisUrl = process.env.REDIS_URL || (await start(() => startRedis(join(dataRoot, "redis"))));
  const mongoUri =
    process.env.MONGODB_URI ||
    (await start(() => startMongo(join(dataRoot, "mongo"), join(root, ".tools", "bin"))));
  project.provide("redisUrl", redisUrl);
  project.provide("mongoUri", mongoUri);
  return async () => {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dataRoot, { recursive: true, force: true });
  };
}
