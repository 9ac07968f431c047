import { createLogger, paceHeap, runUntilSignal } from "@batch-gpt/config";
import { loadCollatorConfig } from "./config.ts";
import { startCollator } from "./start.ts";

const log = createLogger("collator");
await runUntilSignal(log, async () => {
  paceHeap(process.env, "collator");
  return startCollator(loadCollatorConfig(process.env), log);
});
