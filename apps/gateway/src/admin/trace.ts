import { ApiError, collateQueue, fenceIds, lineId, type RequestTrace } from "@batch-gpt/contracts";
import type { QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import { adminBatch } from "./batch-view.ts";

/**
 * One request's story: its record and outcome, each attempt with the batch record that carried it (the
 * attempt's line fence names it), and its queued job while there is one. `id` is a request id or an
 * async call id. Reads by `_id` only.
 */
export async function traceRequest(store: Store, queues: QueueRegistry, id: string): Promise<RequestTrace> {
  const call = id.startsWith("req_") ? null : await store.calls.get(id);
  const requestId = call?.requestId ?? id;
  const request = await store.requests.get(requestId);
  const collate = queues.producer(collateQueue);
  const attempt = request?.attempt ?? 0;
  const state = await collate.state({ requestId, attempt });
  const job = state === "unknown" ? null : state;
  if (!request && !job) {
    throw new ApiError(404, `No request found with id '${id}'.`, { param: "id", code: null });
  }
  const attempts = await Promise.all(
    Array.from({ length: attempt + 1 }, async (_, n) => {
      const holder = await store.fences.holder(fenceIds.line(lineId(requestId, n)));
      const record = holder ? await store.batches.summary(holder) : null;
      return { attempt: n, batch: record ? adminBatch(record) : null };
    }),
  );
  return {
    id: requestId,
    callId: call?._id ?? null,
    state: request?.state ?? "queued",
    job,
    tenant: request?.owner ?? call?.owner ?? null,
    endpoint: request?.endpoint ?? call?.endpoint ?? null,
    model: request?.model ?? null,
    traceId: request?.traceId ?? null,
    createdAt: request ? new Date(request.createdAt).toISOString() : null,
    answer: request?.answer ?? null,
    attempts,
  };
}
