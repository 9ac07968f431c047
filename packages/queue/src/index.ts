export { DelayedError, type Job, type Queue, UnrecoverableError, type Worker } from "bullmq";
export { Inflight } from "./inflight.ts";
export { DonePublisher, DoneSubscriber } from "./notifier.ts";
export { createRedis } from "./redis.ts";
export { type Producer, QueueRegistry } from "./registry.ts";
