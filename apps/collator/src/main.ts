import { createLogger, runUntilSignal } from "@batch-gpt/config";
import { loadCollatorConfig } from "./config.ts";
import { startCollator } from "./start.ts";

const log = createLogger("collator");
await runUntilSignal(log, () => startCollator(loadCollatorConfig(process.env), log));
