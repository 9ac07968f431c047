export {
  APP_NODE_FLAGS,
  type AppProcess,
  appNodeFlags,
  type ChildExit,
  COMPILE_CACHE_DIR,
  describeExit,
  fillCompileCache,
  spawnNodeApp,
  withCompileCache,
} from "./app-process.ts";
export { freePort } from "./free-port.ts";
export { type Leftover, PidFiles, startTimeOf } from "./pid-files.ts";
export { killWhenParentDies, type RunningProcess, startProcess, waitForPort } from "./process.ts";
export { type LocalServer, startMongo, startRedis } from "./servers.ts";
