import type { Endpoint } from "./answers.ts";

export type FilePurpose =
  | "batch"
  | "batch_output"
  | "assistants"
  | "fine-tune"
  | "vision"
  | "user_data"
  | "evals";

export interface FileRecord {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  expires_at: number | null;
  filename: string;
  purpose: FilePurpose;
  status: "processed";
  status_details: null;
}

export type BatchStatus =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled";

export const TERMINAL_STATUSES: readonly BatchStatus[] = ["completed", "failed", "expired", "cancelled"];

export interface BatchErrorItem {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** The public Batch object, every field of OpenAI's reference. */
export interface BatchObject {
  id: string;
  object: "batch";
  endpoint: Endpoint;
  model: string | null;
  errors: { object: "list"; data: BatchErrorItem[] } | null;
  input_file_id: string;
  completion_window: "24h";
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: BatchUsage;
  metadata: Record<string, string> | null;
}

export type NextBatchOutcome = "failed_validation" | "token_limit_exceeded" | "expire" | "cancel";

/** What the emulator knows about a batch beyond the public object (never sent to clients). */
export interface BatchInternal {
  /** Number of request lines (non-blank lines) in the input. */
  lines: number;
  /** Model of the first request line (kept for stats even when the batch failed). */
  model: string | null;
  /** Validation errors found when the batch was created; non-empty → the batch fails. */
  validationErrors: BatchErrorItem[];
  /** Request indexes (0-based, file order) whose answer is not 2xx. */
  failingLines: number[];
  /** Epoch ms of the scheduled transitions. */
  plan: { validateAt: number; finalizeAt: number; completeAt: number; cancelAt: number | null };
  outcome: { kind: NextBatchOutcome; completeLines: number | null } | null;
  /** Set once cancelling starts: when it is done, and how many lines (file order) count as finished. */
  cancel: { doneAt: number; completeLines: number } | null;
  /** Output written at finalizing, exposed at completed. */
  pendingOutput: { outputFileId: string | null; errorFileId: string | null } | null;
}

export interface BatchRecord {
  batch: BatchObject;
  internal: BatchInternal;
}
