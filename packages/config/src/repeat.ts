/** A task run again and again (see `repeat`). */
export interface Repeating {
  /** Stops the ticks and waits for a run under way. */
  stop(): Promise<void>;
}

/**
 * Runs `task` at once (unless `first` is false: the caller ran it already), then every `intervalMs`, one run at a time: a tick that comes while a run is
 * under way is skipped. Behind a slow store a sweep can outlast its interval, and runs started on top
 * of it each read everything again (the soak's collators ran a recovery sweep every 2 s, each taking
 * many seconds). `task` handles its own errors; one that escapes is dropped, and the next tick runs.
 */
export function repeat(
  task: () => Promise<unknown>,
  intervalMs: number,
  opts: { first?: boolean } = {},
): Repeating {
  let running: Promise<void> | null = null;
  const tick = () => {
    running ??= task()
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        running = null;
      });
  };
  if (opts.first !== false) tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
