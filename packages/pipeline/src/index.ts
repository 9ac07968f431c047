export { errorAnswer } from "./error-body.ts";
export { type LineOutcome, OutcomeRecorder } from "./outcomes.ts";
export { openWorkerRuntime, type WorkerRuntime } from "./runtime.ts";
