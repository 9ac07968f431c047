import type { Logger } from "@batch-gpt/config";
import type { BatchProvider } from "@batch-gpt/provider";
import type { Inflight, QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import type { Redis } from "ioredis";
import type { GatewayConfig } from "./config.ts";
import type { Intake } from "./intake.ts";
import type { Waiters } from "./waiters.ts";

/** Everything the routes need, built once by the composition root (main.ts) or a test. */
export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  store: Store;
  /** Fail-fast connection for request-path Redis calls. */
  redis: Redis;
  queues: QueueRegistry;
  inflight: Inflight;
  intake: Intake;
  waiters: Waiters;
  provider: BatchProvider;
  /** Owner scope of a request. Everyone is anonymous until client keys arrive. */
  ownerOf(authorization: string | undefined): string;
}

export type GatewayEnv = { Variables: { requestId: string } };
