import { collectDefaultMetrics, Registry } from "prom-client";

let processRegistry: Registry | null = null;

/**
 * Node's own figures (CPU, memory, event loop, GC), collected once per process: several apps share a
 * process in the tests, and each collector started keeps timers and observers for good.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** One app's metrics: its own registry, plus the process's figures, as Prometheus's text format. */
export class AppMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  async scrape(): Promise<string> {
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${process}`;
  }
}
