import { type AdminBatch, type BatchSummary, batchViewOf, verdictOf } from "@batch-gpt/contracts";

/** What the provider's Batch object tells, as far as the admin API shows it. */
interface ProviderBatchFields {
  created_at?: number;
  completed_at?: number | null;
  failed_at?: number | null;
  expired_at?: number | null;
  cancelled_at?: number | null;
  request_counts?: { total?: number; completed?: number; failed?: number };
  errors?: { data?: { message?: string }[] } | null;
}

const iso = (epochSeconds: number | null | undefined) =>
  epochSeconds ? new Date(epochSeconds * 1000).toISOString() : null;

/**
 * A record as the admin API shows it. `lineCount` is the record's own count, for a record the provider
 * has not counted yet (still collating).
 */
export function adminBatch(record: BatchSummary, lineCount = 0): AdminBatch {
  const batch = parse(record.providerBatch);
  const counts = batch.request_counts;
  const view = batchViewOf(record);
  const finished =
    iso(batch.completed_at) ?? iso(batch.failed_at) ?? iso(batch.expired_at) ?? iso(batch.cancelled_at);
  return {
    id: record._id,
    providerBatchId: record.providerBatchId,
    view,
    state: record.state,
    status: record.status ?? verdictOf(record) ?? record.state,
    provider: record.provider,
    endpoint: record.endpoint,
    model: record.model,
    requests: {
      total: counts?.total || lineCount,
      completed: counts?.completed ?? 0,
      failed: counts?.failed ?? 0,
    },
    createdAt: iso(batch.created_at) ?? new Date(record.createdAt).toISOString(),
    // A refused record never had a provider batch: it finished when it was last written.
    finishedAt: finished ?? (record.state === "done" ? new Date(record.updatedAt).toISOString() : null),
    error: batch.errors?.data?.[0]?.message ?? null,
  };
}

function parse(text: string | null): ProviderBatchFields {
  if (!text) return {};
  try {
    return JSON.parse(text) as ProviderBatchFields;
  } catch {
    return {};
  }
}
