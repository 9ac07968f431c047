export { type CollatorConfig, loadCollatorConfig } from "./config.ts";
export { type RunningCollator, startCollator } from "./start.ts";
