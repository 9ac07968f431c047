import { isIP } from "node:net";
import type { Logger } from "@batch-gpt/config";
import { ConfigError } from "@batch-gpt/config";

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));

/**
 * Where the gateway listens. With keys: HOST, or every interface. Without any key every route is open
 * (the provider key is everyone's to spend), so: loopback only, unless an address beyond it is asked
 * for together with GATEWAY_UNSAFE_NO_AUTH=true — and it says so at start either way.
 */
export function listenAddress(
  config: { HOST?: string | undefined; GATEWAY_UNSAFE_NO_AUTH: boolean },
  open: boolean,
  log: Logger,
): string {
  if (!open) return config.HOST ?? "0.0.0.0";
  const host = config.HOST ?? "127.0.0.1";
  if (isLoopback(host)) {
    log.warn(
      { hostname: host },
      "no gateway keys configured: every route is open, so the gateway listens on loopback only (set GATEWAY_API_KEYS / GATEWAY_ADMIN_KEYS to expose it)",
    );
    return host;
  }
  if (!config.GATEWAY_UNSAFE_NO_AUTH) {
    throw new ConfigError(
      `gateway: HOST=${host} is not loopback and no gateway keys are configured: anyone reaching it could spend the provider key. Set GATEWAY_API_KEYS / GATEWAY_ADMIN_KEYS, or GATEWAY_UNSAFE_NO_AUTH=true to listen there without keys.`,
    );
  }
  log.warn(
    { hostname: host },
    "GATEWAY_UNSAFE_NO_AUTH: listening beyond loopback with no keys; every route is open",
  );
  return host;
}
