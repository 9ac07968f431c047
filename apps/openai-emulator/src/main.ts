/** Runs the emulator from the environment until SIGINT/SIGTERM. */
import { optionsFromEnv, parseEnv } from "./env.ts";
import { startEmulator } from "./index.ts";

async function main(): Promise<void> {
  // Loading the modules was all that was asked (BATCH_GPT_LOAD_ONLY, as the gateway's and the workers'
  // entry points honour it): the Dockerfile fills Node's compile cache this way.
  if (process.env.BATCH_GPT_LOAD_ONLY === "1") return;
  let opts: ReturnType<typeof optionsFromEnv>;
  try {
    opts = optionsFromEnv(parseEnv(process.env));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const emulator = await startEmulator(opts);
  console.log(
    `openai-emulator listening on ${emulator.url} (batch duration ${opts.batchDurationMs} ms${opts.stateDir ? `, state in ${opts.stateDir}` : ""})`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`openai-emulator: ${signal}, shutting down`);
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    emulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error("openai-emulator: shutdown failed", err);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

void main();
