import type { Endpoint } from "@batch-gpt/contracts";

/** The provider's Batch object, as OpenAI's reference shapes it (other providers are mapped onto it). */
export interface ProviderBatch {
  id: string;
  object: "batch";
  endpoint: string;
  status: string;
  input_file_id: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  created_at: number;
  metadata?: Record<string, string> | null;
  errors?: { data?: { code?: string | null; message?: string | null; line?: number | null }[] } | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  [field: string]: unknown;
}

export const TERMINAL_BATCH_STATUSES = ["completed", "failed", "expired", "cancelled"] as const;
export const isTerminalBatchStatus = (status: string) =>
  (TERMINAL_BATCH_STATUSES as readonly string[]).includes(status);

/**
 * Everything the pipeline needs from a batch provider. OpenAI implements it today; Anthropic Message
 * Batches or Azure OpenAI would implement the same five verbs and map their shapes onto OpenAI's.
 */
export interface BatchProvider {
  readonly name: string;
  /** Streams a JSONL file from disk; memory stays bounded however large the file. `signal` abandons it. */
  uploadBatchFile(path: string, filename: string, signal?: AbortSignal): Promise<{ id: string }>;
  createBatch(input: {
    inputFileId: string;
    endpoint: Endpoint;
    metadata: Record<string, string>;
  }): Promise<ProviderBatch>;
  retrieveBatch(id: string): Promise<ProviderBatch>;
  cancelBatch(id: string): Promise<ProviderBatch>;
  /** Newest first, stopping once batches are older than `notBefore`: recovery's "did I create it?" */
  findBatchByMetadata(key: string, value: string, notBefore: Date): Promise<ProviderBatch | null>;
  /** Every batch carrying that metadata, newest first: more than one means a record was created twice. */
  findBatchesByMetadata(key: string, value: string, notBefore: Date): Promise<ProviderBatch[]>;
  /** The lines of a result file, one at a time. */
  readFileLines(fileId: string): AsyncIterable<string>;
}
