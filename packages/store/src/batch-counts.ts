import type { BatchState, BatchVerdict } from "@batch-gpt/contracts";
import type { Collection } from "mongodb";
import type { BatchRecordDoc } from "./mongo.ts";

/** How many batch records share a state, provider status and verdict. */
export interface BatchTally {
  state: BatchState;
  status: string | null;
  verdict: BatchVerdict | null;
  count: number;
}

/**
 * Batch records counted by state, status and verdict, in one aggregation that returns a handful of
 * groups: the records' line lists never leave the server. (FerretDB v1 still reads every record to
 * group them: callers cache the figure for a few seconds.)
 */
export async function countBatches(batches: Collection<BatchRecordDoc>): Promise<BatchTally[]> {
  const groups = await batches
    .aggregate<{
      _id: { state: BatchState; status?: string | null; verdict?: BatchVerdict | null };
      count: number;
    }>([
      { $project: { _id: 0, state: 1, status: 1, verdict: 1 } },
      { $group: { _id: { state: "$state", status: "$status", verdict: "$verdict" }, count: { $sum: 1 } } },
    ])
    .toArray();
  return groups.map(({ _id, count }) => ({
    state: _id.state,
    status: _id.status ?? null,
    verdict: _id.verdict ?? null,
    count,
  }));
}
