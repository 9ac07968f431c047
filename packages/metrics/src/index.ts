export { batchStatusOf } from "./batch-status.ts";
export { cachedFor } from "./cached.ts";
export {
  type BatchCount,
  deploymentMetrics,
  type GatewayMetrics,
  gatewayMetrics,
  heldCallersMetric,
  type LineMetrics,
  lineMetrics,
  type ProviderMetrics,
  providerMetrics,
  type QueueFigure,
  REQUEST_OUTCOMES,
  type RequestOutcome,
} from "./catalog.ts";
export { AppMetrics } from "./exposition.ts";
export { type ProbeServer, type ReadyChecks, serveProbes } from "./probe-server.ts";
