export { loadPollerConfig, type PollerConfig } from "./config.ts";
export { type RunningPoller, startPoller } from "./start.ts";
