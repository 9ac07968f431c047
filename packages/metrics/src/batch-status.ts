import { type BatchState, type BatchVerdict, verdictOf } from "@batch-gpt/contracts";

/**
 * The one word a dashboard shows for a batch record: the provider's status once there is a provider
 * batch (validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled); our
 * verdict for a record that ended without one (empty, upload_refused, create_refused); else the
 * collating step it is at (preparing, uploaded, creating).
 */
export function batchStatusOf(record: {
  state: BatchState;
  status: string | null;
  verdict?: BatchVerdict | null;
}): string {
  const verdict = verdictOf(record);
  if (verdict) return verdict;
  if (record.status) return record.status;
  return record.state;
}
