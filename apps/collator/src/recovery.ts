import type { Logger } from "@batch-gpt/config";
import { fenceIds } from "@batch-gpt/contracts";
import type { ClaimView, Store } from "@batch-gpt/store";
import type { Heartbeats } from "./heartbeat.ts";
import type { BatchSubmitter } from "./submitter.ts";

/** Stale records a collator takes over and carries on at once. */
const RECOVERIES_AT_ONCE = 4;

/**
 * Takes over batch records whose collator stopped reporting mid-way (`preparing`, `uploaded`,
 * `creating`) and carries them on. Winning the fence for the next generation is the claim: the old
 * collator, if only slow, sees the new generation and does not create the batch.
 */
export class Recovery {
  readonly #store: Store;
  readonly #submitter: BatchSubmitter;
  readonly #heartbeats: Heartbeats;
  readonly #log: Logger;
  readonly #collatorId: string;
  readonly #staleMs: number;

  constructor(opts: {
    store: Store;
    submitter: BatchSubmitter;
    heartbeats: Heartbeats;
    log: Logger;
    collatorId: string;
    staleMs: number;
  }) {
    this.#store = opts.store;
    this.#submitter = opts.submitter;
    this.#heartbeats = opts.heartbeats;
    this.#log = opts.log;
    this.#collatorId = opts.collatorId;
    this.#staleMs = opts.staleMs;
  }

  /** Reads only the stale records, a page at a time, without their lines (a record may hold 50,000). */
  async sweep(): Promise<number> {
    // Judged on the store's clock, the one heartbeats are written with: not on this host's.
    const stale = new Date((await this.#store.batches.now()).getTime() - this.#staleMs);
    let taken = 0;
    for await (const page of this.#store.batches.staleCollating(stale)) {
      // A few at a time: one after the other, a collator that found ten records of a killed one
      // carried each to its batch before it even claimed the next, and the last waited minutes.
      const queue = [...page];
      const lane = async () => {
        for (let record = queue.shift(); record; record = queue.shift()) {
          if (await this.#recover(record, stale)) taken++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(RECOVERIES_AT_ONCE, queue.length) }, lane));
    }
    return taken;
  }

  /** Takes `record` over and carries it on; false when another collator claimed it first. */
  async #recover(record: ClaimView, stale: Date): Promise<boolean> {
    const generation = await this.#store.batches.takeOver(record, this.#collatorId, stale);
    if (generation === null) return false;
    this.#log.warn(
      { recordId: record._id, state: record.state, generation },
      "taking over a stale batch record",
    );
    // Reported alive from the take-over on: settling a large record's lines takes a while, and a
    // record that looked stale meanwhile would be taken over again.
    const heartbeat = this.#heartbeats.start(record._id, generation);
    try {
      if (record.state === "preparing") {
        const lines = await this.#store.batches.linesOf(record._id);
        await this.#settleLines(record._id, lines, generation);
      }
      await this.#submitter.advance(record._id, generation, undefined, heartbeat);
    } catch (err) {
      this.#log.error({ err, recordId: record._id }, "recovery of batch record failed; will retry");
    } finally {
      heartbeat.stop();
    }
    return true;
  }

  /**
   * A record left in `preparing` may list lines it never won (the crash came before it trimmed them):
   * keep exactly the lines whose fence it holds (the fence is what places a request in a batch).
   */
  async #settleLines(recordId: string, lines: string[], generation: number): Promise<void> {
    const holders = await this.#store.fences.holders(lines.map((line) => fenceIds.line(line)));
    const mine = lines.filter((line) => holders.get(fenceIds.line(line)) === recordId);
    await this.#store.batches.trimLines(recordId, mine, generation);
  }
}
