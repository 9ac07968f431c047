export { type DeliveryBatch, type FollowUp, type LineOutcome, OutcomeRecorder } from "./outcomes.ts";
export { RetentionSweeper, type RetentionWindows, type SweepTally } from "./retention-sweeper.ts";
export { openWorkerRuntime, type WorkerRuntime } from "./runtime.ts";
