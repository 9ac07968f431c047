export { DelayedError, type Job, type Queue, UnrecoverableError, type Worker } from "bullmq";
export { Admission } from "./admission.ts";
export { CacheTier } from "./cache-tier.ts";
export { collateBacklog } from "./collate-backlog.ts";
export { onFlush, publishFlush } from "./flush-signal.ts";
export { Inflight, QUEUE_FULL } from "./inflight.ts";
export { type Announcement, DonePublisher, DoneSubscriber, type Peeked, RecentAnswers } from "./notifier.ts";
export { createRedis } from "./redis.ts";
export { type Producer, QueueRegistry } from "./registry.ts";
