export * from "./canonical.ts";
export * from "./endpoints.ts";
export * from "./errors.ts";
export * from "./ids.ts";
export * from "./keys.ts";
export * from "./lifecycle.ts";
export * from "./queues.ts";
export * from "./records.ts";
