import type { BatchRecord, CollateJob } from "@batch-gpt/contracts";

/** A collate job as the gateway queues it (a chat completion of model "m"), with `over` on top. */
export const collateJob = (requestId: string, over: Partial<CollateJob> = {}): CollateJob => ({
  requestId,
  attempt: 0,
  owner: "anonymous",
  provider: "openai",
  endpoint: "/v1/chat/completions",
  model: "m",
  body: JSON.stringify({ model: "m", messages: [] }),
  key: `key-${requestId}`,
  traceId: "trace",
  createdAt: Date.now(),
  ...over,
});

/** A new batch record in `preparing`, as a collator writes it. */
export const preparingRecord = (
  id: string,
  lines = [`req_${id}_a:0`, `req_${id}_b:0`],
): BatchRecord & { state: "preparing" } => ({
  _id: id,
  provider: "openai",
  endpoint: "/v1/chat/completions",
  model: "m",
  state: "preparing",
  lines,
  generation: 0,
  owner: "c0",
  heartbeatAt: new Date(),
  inputFileId: null,
  providerBatchId: null,
  providerBatch: null,
  status: null,
  history: [],
  createdAt: new Date(),
  updatedAt: new Date(),
});
