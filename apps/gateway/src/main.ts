import { createLogger, paceHeap, runUntilSignal } from "@batch-gpt/config";
import { loadGatewayConfig } from "./config.ts";
import { startGateway } from "./start.ts";

const log = createLogger("gateway");
await runUntilSignal(log, async () => {
  paceHeap(process.env, "gateway");
  return startGateway(loadGatewayConfig(process.env), log);
});
