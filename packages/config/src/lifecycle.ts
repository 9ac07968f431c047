import { ConfigError } from "./env.ts";
import type { Logger } from "./logger.ts";

/**
 * Runs an app until SIGINT/SIGTERM, then closes it under a deadline. A bad setting stops the process
 * with the message naming the variable, not a stack trace.
 */
export async function runUntilSignal(
  log: Logger,
  start: () => Promise<{ close(): Promise<void> }>,
  shutdownDeadlineMs = 20_000,
): Promise<void> {
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
