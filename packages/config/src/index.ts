export { type ConnectionSettings, connectionSchema, type MongoTarget, resolveMongo } from "./connections.ts";
export { reachedStep } from "./crash-points.ts";
export { boolSetting, ConfigError, type Env, intSetting, parseEnv } from "./env.ts";
export { heapSchema, paceHeap } from "./heap.ts";
export { type AppSettings, appSchema, type HotPathSettings, hotPathSchema } from "./hot-path-settings.ts";
export { runUntilSignal } from "./lifecycle.ts";
export { createLogger, type Logger } from "./logger.ts";
export { type ProviderSettings, providerSchema } from "./provider-settings.ts";
export { type Repeating, repeat } from "./repeat.ts";
