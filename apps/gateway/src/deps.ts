import type { Logger } from "@batch-gpt/config";
import type { AppMetrics } from "@batch-gpt/metrics";
import type { BatchProvider } from "@batch-gpt/provider";
import type { QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import type { Redis } from "ioredis";
import type { AdminReporter } from "./admin/reporter.ts";
import type { Caller, KeyRing } from "./auth/key-ring.ts";
import type { Quotas } from "./auth/quotas.ts";
import type { GatewayConfig } from "./config.ts";
import type { DeploymentFigures } from "./deployment-figures.ts";
import type { Intake } from "./intake.ts";
import type { RequestMeter } from "./request-meter.ts";
import type { Waiters } from "./waiters.ts";

/** Everything the routes need, built once by the composition root (start.ts) or a test. */
export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  store: Store;
  /** Fail-fast connection for request-path Redis calls. */
  redis: Redis;
  intake: Intake;
  /** Callers held open on this process (tests and shutdown look at them). */
  waiters: Waiters;
  provider: BatchProvider;
  queues: QueueRegistry;
  /** This gateway's share of the admin figures (cache lookups, held callers), reported to Redis. */
  admin: AdminReporter;
  /** This gateway's Prometheus metrics (`GET /metrics`). */
  metrics: AppMetrics;
  /** Counts and times the calls to the batched endpoints. */
  meter: RequestMeter;
  /** The deployment's queues and batch counts (metrics, dashboards), read when asked, kept a few seconds. */
  figures: DeploymentFigures;
  /** The keys this gateway accepts (auth/access.ts checks every request against them). */
  keyRing: KeyRing;
  quotas: Quotas;
}

/** `caller` is set for every route but the open ones (health probes). */
export type GatewayEnv = { Variables: { requestId: string; caller: Caller } };
