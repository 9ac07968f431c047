import { QUEUE_CATALOG } from "@batch-gpt/contracts";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { HonoAdapter } from "@bull-board/hono";
import { serveStatic } from "@hono/node-server/serve-static";
import type { Hono } from "hono";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";

/** Where the board is mounted (app.ts): its pages and API build their links from it. */
export const QUEUE_BOARD_PATH = "/admin/queues";

/**
 * bull-board over every queue of the catalog. Admin only (the auth middleware): its job views show
 * request bodies. Read-only: removing or retrying a job by hand would lose or duplicate a request
 * behind the store's back (the collator, the poller and recovery own the jobs).
 */
export function queueBoardRoutes(deps: Pick<GatewayDeps, "queues">): Hono<GatewayEnv> {
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: QUEUE_CATALOG.map(
      (definition) => new BullMQAdapter(deps.queues.bullQueue(definition), { readOnlyMode: true }),
    ),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: "batch-gpt queues" } },
  });
  return adapter.registerPlugin() as unknown as Hono<GatewayEnv>;
}
