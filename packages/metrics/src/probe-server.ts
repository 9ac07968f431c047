import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { openAIError } from "@batch-gpt/contracts";
import type { AppMetrics } from "./exposition.ts";

/** What each dependency answered: "ok" or "down". */
export type ReadyChecks = Record<string, "ok" | "down">;

export interface ProbeServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The collator's and the poller's own small HTTP server: `/metrics` (Prometheus), `/healthz` (the
 * process answers) and `/readyz` (its Redis and MongoDB answer), so an orchestrator can probe every
 * process. It serves nothing else and listens on loopback unless told otherwise (METRICS_HOST).
 */
export async function serveProbes(opts: {
  host: string;
  port: number;
  metrics: AppMetrics;
  ready(): Promise<ReadyChecks>;
  log: { error(obj: object, msg: string): void };
}): Promise<ProbeServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return json(res, 405, notAllowed(req.method));
    if (path === "/healthz") return json(res, 200, { status: "ok" });
    if (path === "/readyz") {
      opts.ready().then(
        (checks) => {
          const ok = Object.values(checks).every((check) => check === "ok");
          json(res, ok ? 200 : 503, { status: ok ? "ok" : "degraded", ...checks });
        },
        () => json(res, 503, { status: "degraded" }),
      );
      return;
    }
    if (path === "/metrics") {
      opts.metrics.scrape().then(
        (text) => {
          res.writeHead(200, { "content-type": opts.metrics.contentType });
          res.end(text);
        },
        (err: unknown) => {
          opts.log.error({ err }, "metrics scrape failed");
          json(res, 500, {
            error: openAIError(500, "Could not read the metrics.", { type: "server_error" }),
          });
        },
      );
      return;
    }
    json(res, 404, { error: openAIError(404, `Invalid URL (${req.method} ${path})`) });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const notAllowed = (method: string | undefined) => ({
  error: openAIError(405, `Method ${method ?? ""} is not allowed here.`),
});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
