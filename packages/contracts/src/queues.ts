import { z } from "zod";
import { ENDPOINTS } from "./endpoints.ts";

/** Every queue in the system, with the payload its jobs carry. Producers and workers both import this. */
export const QUEUES = {
  /** One job per request attempt; the collator pulls them and forms batches. */
  collate: "collate",
  /** One job per live batch record; the poller tracks it to a terminal state. */
  poll: "poll",
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const collateJobSchema = z.object({
  requestId: z.string(),
  attempt: z.number().int().min(0),
  owner: z.string(),
  provider: z.string(),
  endpoint: z.enum(ENDPOINTS),
  model: z.string(),
  /** The request body exactly as the client sent it (JSON text), so no field is lost or rewritten. */
  body: z.string(),
  /** Cache / dedup key. */
  key: z.string(),
  /** Trace id of the HTTP request that created it, so logs follow a request into its batch. */
  traceId: z.string(),
  createdAt: z.number(),
});
export type CollateJob = z.infer<typeof collateJobSchema>;

export const pollJobSchema = z.object({
  recordId: z.string(),
  /** Delay before the next check; doubles up to the configured maximum. */
  intervalMs: z.number().int().min(0),
});
export type PollJob = z.infer<typeof pollJobSchema>;

export interface JobPayloads {
  collate: CollateJob;
  poll: PollJob;
}
