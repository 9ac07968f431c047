export { queueAsyncCalls } from "./async-calls.ts";
export { collateJob, preparingRecord } from "./fixtures.ts";
export { sampleOf, scrapeMetrics } from "./metrics.ts";
export { descendants, isAlive, type ProcInfo, processTable } from "./processes.ts";
export { openTestStore, services, uniqueName } from "./services.ts";
export { COMMON_DEFAULTS, settingsRefusal } from "./settings.ts";
export {
  type AppProcess,
  apiError,
  type EmulatorStats,
  eventually,
  ROOT,
  type Stack,
  type StackOptions,
  spawnApp,
  startStack,
} from "./stack.ts";
