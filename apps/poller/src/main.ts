import { createLogger, runUntilSignal } from "@batch-gpt/config";
import { loadPollerConfig } from "./config.ts";
import { startPoller } from "./start.ts";

const log = createLogger("poller");
await runUntilSignal(log, () => startPoller(loadPollerConfig(process.env), log));
