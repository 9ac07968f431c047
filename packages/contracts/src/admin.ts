import { type BatchState, type BatchVerdict, verdictOf } from "./lifecycle.ts";
import type { BatchRecord } from "./records.ts";

/**
 * The admin API (`/admin/api/…`): what the dashboard page and the operator CLI read, and the Redis
 * names behind its deployment-wide figures. Every gateway writes those figures; any gateway reads them.
 */

/**
 * The dashboard's views of a batch record, after the original batch monitor's: one per terminal provider
 * status, and `active` for everything still on its way. A record the provider refused (no batch at
 * all) is `failed`; one that won none of its lines (verdict `empty`) is in no view but `all`.
 */
export const BATCH_VIEWS = ["active", "completed", "failed", "expired", "cancelled"] as const;
export type BatchView = (typeof BATCH_VIEWS)[number];
/** A view, or every record. */
export type BatchFilter = BatchView | "all";
export const BATCH_FILTERS = [...BATCH_VIEWS, "all"] as const satisfies BatchFilter[];

const TERMINAL_VIEWS: Record<string, BatchView> = {
  completed: "completed",
  failed: "failed",
  expired: "expired",
  cancelled: "cancelled",
};

/** The view of a record: its provider status decides; without one, its verdict or its state. */
export function batchViewOf(record: {
  state: BatchState;
  status: string | null;
  verdict?: BatchVerdict | null;
}): BatchView | null {
  const terminal = TERMINAL_VIEWS[record.status ?? ""];
  if (terminal) return terminal;
  const verdict = verdictOf(record);
  if (verdict === "empty") return null;
  if (verdict) return "failed";
  // Not terminal at the provider (validating, in_progress, finalizing, cancelling) or not yet there.
  return record.state === "done" ? null : "active";
}

/** A batch record without its line list and status history: what listings and the dashboard read. */
export type BatchSummary = Omit<BatchRecord, "lines" | "history">;

/** One batch record as the admin API shows it (never its line list). */
export interface AdminBatch {
  /** Our record id (`bgb_…`). */
  id: string;
  /** The provider's batch id, once created. */
  providerBatchId: string | null;
  view: BatchView | null;
  /** Our record's state (`BATCH_STATES`). */
  state: BatchState;
  /** The provider's status, or our verdict for a record that never had a provider batch. */
  status: string;
  provider: string;
  endpoint: string;
  model: string;
  /** The provider's request counts; before submission, `total` is the record's line count. */
  requests: { total: number; completed: number; failed: number };
  /** ISO times: created (the provider's `created_at` once there is one), finished (a terminal status). */
  createdAt: string;
  finishedAt: string | null;
  /** The provider's first error message, for a failed batch. */
  error: string | null;
}

export interface AdminBatchList {
  object: "list";
  status: BatchFilter;
  data: AdminBatch[];
  offset: number;
  limit: number;
  /** Records in this view (the page is `data`). */
  total: number;
  /** Records in each view, and in all. */
  counts: Record<BatchFilter, number>;
}

/** Requests waiting to be collated, for one model. */
export interface QueuedModel {
  model: string;
  /** In the queue, not yet taken by a collator. */
  waiting: number;
  /** Taken by a collator, gathered into a group that is not flushed yet. */
  held: number;
  /** Resubmissions waiting out their delay. */
  delayed: number;
}

export interface AdminOverview {
  at: string;
  batches: Record<BatchFilter, number>;
  queue: { total: number; models: QueuedModel[] };
  /** Lookups counted by every gateway since the counters began (requests that skipped the cache are not). */
  cache: { hits: number; misses: number; hitRate: number | null };
  /** Sync callers held open right now, per gateway that reported lately. */
  heldCallers: { total: number; gateways: { id: string; held: number; at: string }[] };
}

export interface FlushResult {
  /** The model flushed, or null for every model. */
  model: string | null;
  /** Collators that received the signal. */
  collators: number;
}

/** One request through its attempts, each with the batch record that carried it. */
export interface RequestTrace {
  id: string;
  /** The async call id it was looked up by, when it was. */
  callId: string | null;
  /** `REQUEST_STATES`; `queued` until a collator records it. */
  state: string;
  /** BullMQ's state of its queued job, while there is one. */
  job: string | null;
  tenant: string | null;
  endpoint: string | null;
  model: string | null;
  traceId: string | null;
  createdAt: string | null;
  answer: { statusCode: number; body: string } | null;
  attempts: { attempt: number; batch: AdminBatch | null }[];
}

/** Redis names of the admin figures (under the deployment's prefix, like every other key). */
export function adminKeys(prefix: string) {
  return {
    /** Hash of deployment-wide counters: `cache_hits`, `cache_misses` (HINCRBY by every gateway). */
    counters: `${prefix}:admin:counters`,
    /** Hash: gateway id → "<held callers> <epoch ms>", rewritten by each gateway every report interval. */
    heldCallers: `${prefix}:admin:held-callers`,
    /** Pub/sub channel: a message `{"model": string | null}` makes every collator flush those groups now. */
    flushChannel: `${prefix}:admin:flush`,
  };
}
export type AdminKeys = ReturnType<typeof adminKeys>;

/** A flush signal as published on `flushChannel`. */
export interface FlushMessage {
  model: string | null;
}

/** "45s", "3m 12s", "2h 05m", "3d 4h": ages and times to complete, as the dashboard and the CLI show them. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
