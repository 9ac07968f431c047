import { createLogger, paceHeap, runUntilSignal } from "@batch-gpt/config";
import { loadPollerConfig } from "./config.ts";
import { startPoller } from "./start.ts";

const log = createLogger("poller");
await runUntilSignal(log, async () => {
  paceHeap(process.env, "poller");
  return startPoller(loadPollerConfig(process.env), log);
});
