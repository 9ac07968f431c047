import type { Logger } from "@batch-gpt/config";
import { COLLATING_BATCH_STATES, fenceIds } from "@batch-gpt/contracts";
import type { Store } from "@batch-gpt/store";
import type { BatchSubmitter } from "./submitter.ts";

/**
 * Takes over batch records whose collator stopped reporting mid-way (`preparing`, `uploaded`,
 * `creating`) and carries them on. Winning the fence for the next generation is the claim: the old
 * collator, if only slow, sees the new generation and does not create the batch.
 */
export class Recovery {
  readonly #store: Store;
  readonly #submitter: BatchSubmitter;
  readonly #log: Logger;
  readonly #collatorId: string;
  readonly #staleMs: number;

  constructor(opts: {
    store: Store;
    submitter: BatchSubmitter;
    log: Logger;
    collatorId: string;
    staleMs: number;
  }) {
    this.#store = opts.store;
    this.#submitter = opts.submitter;
    this.#log = opts.log;
    this.#collatorId = opts.collatorId;
    this.#staleMs = opts.staleMs;
  }

  async sweep(): Promise<number> {
    const stale = Date.now() - this.#staleMs;
    const records = await this.#store.batches.unfinished(COLLATING_BATCH_STATES);
    let taken = 0;
    for (const record of records) {
      if (record.heartbeatAt.getTime() > stale) continue;
      const generation = await this.#store.batches.takeOver(record, this.#collatorId);
      if (generation === null) continue;
      taken++;
      this.#log.warn(
        { recordId: record._id, state: record.state, generation },
        "taking over a stale batch record",
      );
      try {
        if (record.state === "preparing") await this.#settleLines(record._id, record.lines);
        await this.#submitter.advance(record._id, generation);
      } catch (err) {
        this.#log.error({ err, recordId: record._id }, "recovery of batch record failed; will retry");
      }
    }
    return taken;
  }

  /**
   * A record left in `preparing` may list lines it never won (the crash came before it trimmed them):
   * keep exactly the lines whose fence it holds (the fence is what places a request in a batch).
   */
  async #settleLines(recordId: string, lines: string[]): Promise<void> {
    const mine: string[] = [];
    for (const line of lines) {
      if ((await this.#store.fences.holder(fenceIds.line(line))) === recordId) mine.push(line);
    }
    await this.#store.batches.trimLines(recordId, mine);
  }
}
