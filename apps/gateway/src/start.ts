import type { AddressInfo } from "node:net";
import { createLogger, type Logger, resolveMongo } from "@batch-gpt/config";
import { adminKeys, redisKeys } from "@batch-gpt/contracts";
import {
  AppMetrics,
  deploymentMetrics,
  gatewayMetrics,
  heldCallersMetric,
  providerMetrics,
} from "@batch-gpt/metrics";
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
import { KeyRing } from "./auth/key-ring.ts";
import { listenAddress } from "./auth/listen.ts";
import { Quotas, quotaScripts } from "./auth/quotas.ts";
import { CallRegistry } from "./calls.ts";
import type { GatewayConfig } from "./config.ts";
import { DeploymentFigures } from "./deployment-figures.ts";
import type { GatewayDeps } from "./deps.ts";
import { Intake } from "./intake.ts";
import { locator, manyLocator } from "./locate.ts";
import { RequestMeter } from "./request-meter.ts";
import { Waiters } from "./waiters.ts";

export interface RunningGateway {
  url: string;
  port: number;
  deps: GatewayDeps;
  close(): Promise<void>;
}

/** How long a stopping gateway lets the requests under way finish before it cuts their connections. */
const SHUTDOWN_DRAIN_MS = 10_000;

/** Composition root of the gateway: builds Redis, Mongo, queues and services, then listens. */
export async function startGateway(
  config: GatewayConfig,
  log: Logger = createLogger("gateway"),
): Promise<RunningGateway> {
  const mongo = resolveMongo(config);
  const store = await openStore(mongo.uri, mongo.dbName, {
    serverSelectionTimeoutMS: config.MONGO_FAIL_FAST_MS,
  });
  // Its queries that go by more than `_id` (the batches API, the dashboard) each have their index.
  await store.ensureIndexes("gateway");
  const keys = redisKeys(config.BULL_PREFIX);
  const queues = new QueueRegistry({ redisUrl: config.REDIS_URL, prefix: config.BULL_PREFIX, log });
  const client = createRedis(config.REDIS_URL, "client", quotaScripts);
  client.on("error", (err) => log.error({ err: err.message }, "redis client error"));
  const inflight = new Inflight(client, keys, {
    maxQueuedRequests: config.MAX_QUEUED_REQUESTS,
    maxQueuedBytes: config.MAX_QUEUED_BYTES,
  });
  const metrics = new AppMetrics();
  const provider = new OpenAIProvider({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    metrics: providerMetrics(metrics.registry),
  });
  const locate = locator(queues, store);
  const recent = new RecentAnswers(client, keys);
  const waiters = new Waiters({
    requests: store.requests,
    recent,
    locate: manyLocator(queues, store),
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
  const meter = new RequestMeter(gatewayMetrics(metrics.registry), config.CLIENT_SERVING_MODE);
  heldCallersMetric(metrics.registry, () => waiters.size);
  const figures = new DeploymentFigures({ store, queues });
  deploymentMetrics(metrics.registry, figures);
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
    onCacheLookup: (hit) => {
      admin.cacheLookup(hit);
      meter.cacheLookup(hit);
    },
    onQueued: (req, requestId, attached) => {
      if (attached) meter.attached(req.endpoint);
      // A line per request at debug level: at info it would be a write per call on the hot path.
      log.debug(
        { requestId, traceId: req.traceId, endpoint: req.endpoint, model: req.body.model, mode: req.mode },
        attached ? "request attached" : "request accepted",
      );
    },
  });
  const subscriberConnection = createRedis(config.REDIS_URL, "subscriber");
  subscriberConnection.on("error", (err) => log.error({ err: err.message }, "redis subscriber error"));
  const subscriber = new DoneSubscriber(subscriberConnection, keys, {
    onDone: (message) => waiters.onDone(message),
    onResync: () => void waiters.recheckAll(),
  });
  await subscriber.ready();

  const keyRing = new KeyRing({
    apiKeys: config.GATEWAY_API_KEYS,
    adminKeys: config.GATEWAY_ADMIN_KEYS,
    store: store.apiKeys,
    redis: client,
    versionKey: keys.keysVersion,
    defaults: { rpm: config.DEFAULT_KEY_RPM ?? null, maxPending: config.DEFAULT_KEY_MAX_PENDING ?? null },
    log,
  });
  await keyRing.start(config.KEYS_REFRESH_MS);
  // Decided before anything listens: refuses to expose a gateway without keys.
  const hostname = listenAddress(config, keyRing.open, log);
  const quotas = new Quotas(client, keys, {
    leaseMs: config.QUOTA_LEASE_MS,
    // A failure here once went unseen for a whole release (the script never compiled).
    onRenewError: (err) => log.warn({ err }, "renewing held callers' quota places failed"),
  });

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
    metrics,
    meter,
    figures,
    keyRing,
    quotas,
  };
  const app = createGatewayApp(deps);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  admin.start();
  log.info({ port, hostname }, "gateway listening");

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    deps,
    async close() {
      // Stop taking connections, answer held callers "retry" (their requests go on), let the requests
      // under way finish, then close connections: a request cut mid-way (its body half read, its reply
      // half written) got a reset, and its handler went on against connections closed under it.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      waiters.close();
      const drained = await Promise.race([
        closed.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), SHUTDOWN_DRAIN_MS).unref()),
      ]);
      // Past the drain, whatever is left (a client sending its body for ever) is cut.
      if (!drained) (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      keyRing.stop();
      await quotas.close();
      await admin.close();
      await subscriber.close();
      await calls.close();
      await queues.close();
      await client.quit().catch(() => {});
      await store.close();
    },
  };
}
