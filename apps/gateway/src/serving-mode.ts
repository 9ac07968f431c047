import { invalidRequest } from "@batch-gpt/contracts";
import { SERVING_MODES, type ServingMode } from "./config.ts";

/** The per-request `x-batch-mode` header wins over the server's CLIENT_SERVING_MODE. */
export function servingMode(header: string | undefined, fallback: ServingMode): ServingMode {
  if (header === undefined || header === "") return fallback;
  const mode = header.trim().toLowerCase();
  if ((SERVING_MODES as readonly string[]).includes(mode)) return mode as ServingMode;
  throw invalidRequest(
    `Invalid x-batch-mode header '${header.replace(/[^\x20-\x7e]/g, "?").slice(0, 40)}': expected one of ${SERVING_MODES.join(", ")}.`,
    "x-batch-mode",
  );
}
