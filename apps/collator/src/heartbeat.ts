import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@batch-gpt/config";
import type { Store } from "@batch-gpt/store";

/** A failed heartbeat is tried again this soon (or at the interval, if shorter), not a whole interval later. */
const RETRY_MS = 1000;

/** One collator's reports that it still carries a batch record (see `Heartbeats.start`). */
export interface Heartbeat {
  /** Aborted once the record is no longer this generation's to carry (taken over, or moved on). */
  readonly lost: AbortSignal;
  stop(): void;
}

/**
 * Reports a record alive while its collator works on it, so other collators do not take it over.
 * One report at a time, the next one `intervalMs` after the last one ended: a slow store makes reports
 * wait, never pile up behind each other (each is a write of the whole record on FerretDB v1). A report
 * the store refuses means the record is lost: reporting stops, so a dead new holder is not kept looking
 * alive, and the work under way is abandoned. A report that fails (the store busy or out of reach) is
 * tried again within a second: the record is still ours, and letting it look stale would hand it to
 * another collator that would redo the work.
 */
export class Heartbeats {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #intervalMs: number;

  constructor(opts: { store: Store; log: Logger; intervalMs: number }) {
    this.#store = opts.store;
    this.#log = opts.log;
    this.#intervalMs = opts.intervalMs;
  }

  start(recordId: string, generation: number): Heartbeat {
    const stopped = new AbortController();
    const lost = new AbortController();
    const run = async () => {
      let wait = this.#intervalMs;
      let failures = 0;
      while (!stopped.signal.aborted) {
        await sleep(wait, undefined, { signal: stopped.signal }).catch(() => {});
        if (stopped.signal.aborted) return;
        try {
          if (!(await this.#store.batches.heartbeat(recordId, generation))) {
            lost.abort();
            this.#log.info(
              { recordId, generation },
              "no longer carrying the batch record: taken over or moved on",
            );
            return;
          }
          failures = 0;
          wait = this.#intervalMs;
        } catch (err) {
          failures += 1;
          wait = Math.min(RETRY_MS, this.#intervalMs);
          this.#log.warn(
            { err, recordId, generation, failures },
            "heartbeat of a batch record failed; trying again",
          );
        }
      }
    };
    void run();
    return { lost: lost.signal, stop: () => stopped.abort() };
  }
}
