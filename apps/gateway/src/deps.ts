import type { Logger } from "@batch-gpt/config";
import type { BatchProvider } from "@batch-gpt/provider";
import type { QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import type { Redis } from "ioredis";
import type { AdminReporter } from "./admin/reporter.ts";
import type { GatewayConfig } from "./config.ts";
import type { Intake } from "./intake.ts";
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
  /** The tenant (client scope) a request belongs to. Everyone is "anonymous" until client keys arrive. */
  tenantOf(authorization: string | undefined): string;
}

export type GatewayEnv = { Variables: { requestId: string } };
