import { flushCompileCache } from "node:module";
import { ConfigError } from "./env.ts";
import type { Logger } from "./logger.ts";

/**
 * Set to 1, an app's entry point loads its modules and exits 0 before it reads a setting or connects
 * anywhere: run under NODE_COMPILE_CACHE, it fills Node's compile cache, so that the app's real start
 * finds every file there (the Dockerfile does this at build time; see COMPILE_CACHE_DIR in
 * packages/local-services for why).
 */
export const LOAD_ONLY_ENV = "BATCH_GPT_LOAD_ONLY";

/** True when the process was started only to load its modules (`LOAD_ONLY_ENV`). */
export function loadOnly(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[LOAD_ONLY_ENV] === "1";
}

/**
 * Runs an app until SIGINT/SIGTERM, then closes it under a deadline. A bad setting stops the process
 * with the message naming the variable, not a stack trace. Started with `LOAD_ONLY_ENV`, it returns at
 * once: the entry point's imports, every module of the app, are loaded by then.
 */
export async function runUntilSignal(
  log: Logger,
  start: () => Promise<{ close(): Promise<void> }>,
  shutdownDeadlineMs = 20_000,
): Promise<void> {
  if (loadOnly()) return;
  let app: { close(): Promise<void> };
  try {
    app = await start();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    log.fatal({ err: error }, "failed to start");
    process.exit(1);
  }
  // Node writes its compile cache (NODE_COMPILE_CACHE) when the process exits; a process killed
  // instead would leave it to the next start to fill. Every module is loaded by now.
  flushCompileCache();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const deadline = setTimeout(() => {
      log.error("shutdown deadline passed; exiting");
      process.exit(1);
    }, shutdownDeadlineMs);
    deadline.unref();
    await app.close().catch((err) => log.error({ err }, "error during shutdown"));
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
