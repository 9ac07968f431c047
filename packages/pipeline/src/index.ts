export { type DeliveryBatch, type LineOutcome, OutcomeRecorder } from "./outcomes.ts";
export { openWorkerRuntime, type WorkerRuntime } from "./runtime.ts";
