import type { AddressInfo } from "node:net";
import { createLogger, type Logger, resolveMongo } from "@batch-gpt/config";
import { adminKeys, redisKeys } from "@batch-gpt/contracts";
import { OpenAIProvider } from "@batch-gpt/provider";
import {
  CacheTier,
  createRedis,
  DoneSubscriber,
  Inflight,
  QueueRegistry,
  RecentAnswers,
} from "@batch-gpt/queue";
import { openStore } from "@batch-gpt/store";
import { serve } from "@hono/node-server";
import { AdminReporter } from "./admin/reporter.ts";
import { createGatewayApp } from "./app.ts";
import { CallRegistry } from "./calls.ts";
import type { GatewayConfig } from "./config.ts";
import type { GatewayDeps } from "./deps.ts";
import { Intake } from "./intake.ts";
import { locator } from "./locate.ts";
import { Waiters } from "./waiters.ts";

export interface RunningGateway {
  url: string;
  port: number;
  deps: GatewayDeps;
  close(): Promise<void>;
}

/** Composition root of the gateway: builds Redis, Mongo, queues and services, then listens. */
export async function startGateway(
  config: GatewayConfig,
  log: Logger = createLogger("gateway"),
): Promise<RunningGateway> {
  const mongo = resolveMongo(config);
  const store = await openStore(mongo.uri, mongo.dbName);
  const keys = redisKeys(config.BULL_PREFIX);
  const queues = new QueueRegistry({ redisUrl: config.REDIS_URL, prefix: config.BULL_PREFIX, log });
  const client = createRedis(config.REDIS_URL, "client");
  client.on("error", (err) => log.error({ err: err.message }, "redis client error"));
  const inflight = new Inflight(client, keys);
  const provider = new OpenAIProvider({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL });
  const locate = locator(queues, store);
  const recent = new RecentAnswers(client, keys);
  const waiters = new Waiters({
    requests: store.requests,
    recent,
    locate,
    recheckMs: config.WAITER_RECHECK_MS,
    storeAfterMs: (config.ANSWER_REDIS_TTL_SECONDS * 1000) / 2,
  });
  const calls = new CallRegistry({
    redis: client,
    keys,
    store,
    log,
    ttlSeconds: config.CALL_REDIS_TTL_SECONDS,
  });
  const admin = new AdminReporter({
    redis: client,
    keys: adminKeys(config.BULL_PREFIX),
    heldCallers: () => waiters.size,
    log,
  });
  const intake = new Intake({
    store,
    inflight,
    tier: new CacheTier(client, keys, {
      maxEntryBytes: config.CACHE_REDIS_MAX_ENTRY_BYTES,
      ttlSeconds: config.CACHE_REDIS_TTL_SECONDS,
    }),
    calls,
    recent,
    queues,
    waiters,
    locate,
    provider: provider.name,
    cacheTtlSeconds: config.CACHE_TTL_SECONDS,
    onCacheLookup: (hit) => admin.cacheLookup(hit),
  });
  const subscriberConnection = createRedis(config.REDIS_URL, "subscriber");
  subscriberConnection.on("error", (err) => log.error({ err: err.message }, "redis subscriber error"));
  const subscriber = new DoneSubscriber(subscriberConnection, keys, {
    onDone: (message) => waiters.onDone(message),
    onResync: () => void waiters.recheckAll(),
  });
  await subscriber.ready();

  const deps: GatewayDeps = {
    redis: client,
    config,
    log,
    store,
    intake,
    waiters,
    provider,
    queues,
    admin,
    tenantOf: () => "anonymous",
  };
  const app = createGatewayApp(deps);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: "0.0.0.0" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  admin.start();
  log.info({ port }, "gateway listening");

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    deps,
    async close() {
      // Stop intake, answer held callers "retry" (their requests go on), then close connections.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      waiters.close();
      await new Promise((r) => setTimeout(r, 50));
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      await admin.close();
      await subscriber.close();
      await calls.close();
      await queues.close();
      await client.quit().catch(() => {});
      await store.close();
    },
  };
}
