import { ApiError, type BatchRecord } from "@batch-gpt/contracts";
import { type BatchProvider, isTerminalBatchStatus, relayedError } from "@batch-gpt/provider";
import type { Store } from "@batch-gpt/store";

/** A provider Batch object as stored on a record. */
export type BatchObject = Record<string, unknown> & { id: string; status: string };

/** The stored provider Batch object; its status and id are the record's own where they are newer. */
export function batchObject(
  record: Pick<BatchRecord, "providerBatch" | "providerBatchId" | "status">,
): BatchObject {
  const batch = JSON.parse(record.providerBatch ?? "{}") as BatchObject;
  return { ...batch, id: record.providerBatchId ?? batch.id, status: record.status ?? batch.status };
}

/**
 * Cancels a submitted batch at the provider and records the status it answers (`cancelling`, then the
 * poller sees `cancelled` and resubmits the unfinished lines). Shared by `POST /v1/batches/{id}/cancel`
 * and the admin API. A finished batch cannot be cancelled: 409, as OpenAI answers.
 */
export async function cancelBatch(
  deps: { store: Store; provider: BatchProvider },
  record: Pick<BatchRecord, "_id" | "providerBatch" | "providerBatchId" | "status">,
): Promise<BatchObject> {
  const stored = batchObject(record);
  if (isTerminalBatchStatus(stored.status)) throw cannotCancel(stored.status);
  let batch: Awaited<ReturnType<BatchProvider["cancelBatch"]>>;
  try {
    batch = await deps.provider.cancelBatch(stored.id);
  } catch (error) {
    throw relayedError(error);
  }
  await deps.store.batches.recordStatus(record, batch);
  return batch as BatchObject;
}

/** OpenAI's answer to cancelling a finished batch; retrying would fail the same way. */
const cannotCancel = (status: string) =>
  new ApiError(409, `Cannot cancel a batch with status '${status}'.`, { shouldRetry: false });
