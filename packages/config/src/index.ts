export { type ConnectionSettings, connectionSchema, type MongoTarget, resolveMongo } from "./connections.ts";
export { ConfigError, type Env, intSetting, parseEnv } from "./env.ts";
