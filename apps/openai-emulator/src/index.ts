import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createEmulatorApp, type EmulatorOptions } from "./app.ts";

export { answer, ENDPOINTS, type Endpoint } from "./answers.ts";
export {
  createEmulatorApp,
  DEFAULT_MAX_UPLOAD_BYTES,
  type EmulatorApp,
  type EmulatorOptions,
} from "./app.ts";
export { embeddingVector, fromBase64 } from "./embeddings.ts";
export { FAULT_TARGETS, type FaultSpec, type FaultTarget, type NextBatch } from "./faults.ts";
export { failMarker, tokens } from "./text.ts";
export type { BatchObject, BatchStatus, FileRecord } from "./types.ts";

export interface StartedEmulator {
  /** Base URL for the SDK, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  /** Origin without /v1, for the /_emulator control API. */
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the emulator on `host:port` (port 0 picks a free one). */
export async function startEmulator(
  opts: EmulatorOptions & { port?: number; host?: string } = {},
): Promise<StartedEmulator> {
  const emulator = createEmulatorApp(opts);
  const host = opts.host ?? "127.0.0.1";
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: emulator.app.fetch, port: opts.port ?? 0, hostname: host }, () => resolve(s));
    s.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(":") ? `[${host}]` : host;
  const origin = `http://${hostForUrl}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/v1`,
    origin,
    port,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ("closeAllConnections" in server) server.closeAllConnections();
        });
        await emulator.close();
      })();
      return closing;
    },
  };
}
