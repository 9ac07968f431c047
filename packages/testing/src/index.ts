export { openTestStore, services, uniqueName } from "./services.ts";
export { settingsRefusal } from "./settings.ts";
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
