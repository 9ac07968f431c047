import { chunked, eachInFlight } from "./bulk.ts";
import { type Collections, duplicateKeyIndexes, isDuplicateKey, META } from "./mongo.ts";

/** The prefix of every batch record's fence id (`fenceIds.generation`, `fenceIds.creating`). */
const RECORD_FENCE_PREFIX = "batch:";

/**
 * Fences make a step happen once: inserting a unique `_id` is atomic on MongoDB and FerretDB alike,
 * a duplicate key (11000) means someone else did it. Fence ids: `fenceIds` in contracts; which step
 * takes which: `BATCH_TRANSITIONS` in contracts/src/lifecycle.ts.
 */
export class Fences {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  /** A batch record's fences live apart from the lines' (see `Collections.recordFences`). */
  #of(id: string) {
    return id.startsWith(RECORD_FENCE_PREFIX) ? this.#c.recordFences : this.#c.fences;
  }

  /**
   * Moves record fences written before they had a collection of their own (in `fences`) to
   * `recordFences`: run at start by the collator and the poller, so a take-over won by an older version
   * still counts. Once per database: the move leaves a mark (`META.fencesAdopted`), and a start that
   * finds it skips the query, which on FerretDB v1 scans every line's fence (15 s with 200,000, each
   * app at its start). Sound because old and new workers never run side by side (README, "Upgrading"):
   * when a new one starts, no older version writes such fences any more. Idempotent.
   */
  async adoptLegacy(): Promise<number> {
    if (await this.#c.meta.findOne({ _id: META.fencesAdopted })) return 0;
    const legacy = await this.#c.fences.find({ _id: { $regex: `^${RECORD_FENCE_PREFIX}` } }).toArray();
    if (legacy.length > 0) {
      await this.#c.recordFences.insertMany(legacy, { ordered: false }).catch((error: unknown) => {
        if (!duplicateKeyIndexes(error, legacy.length)) throw error;
      });
      await this.#c.fences.deleteMany({ _id: { $in: legacy.map((f) => f._id) } });
    }
    await this.#c.meta.insertOne({ _id: META.fencesAdopted, at: new Date() }).catch((error: unknown) => {
      if (!isDuplicateKey(error)) throw error;
    });
    return legacy.length;
  }

  /** True when this caller won the fence. */
  async claim(id: string, holder: string): Promise<boolean> {
    try {
      await this.#of(id).insertOne({ _id: id, holder, at: new Date() });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /**
   * Claims many fences at once (commands of 1,000, two in flight as `eachInFlight` measured); returns
   * the ids this caller won.
   */
  async claimMany(ids: string[], holder: string): Promise<Set<string>> {
    const won = new Set<string>();
    const at = new Date();
    await eachInFlight(chunked(ids, 1000), async (chunk) => {
      try {
        await this.#of(chunk[0]!).insertMany(
          chunk.map((_id) => ({ _id, holder, at })),
          { ordered: false },
        );
        for (const id of chunk) won.add(id);
      } catch (error) {
        const lost = duplicateKeyIndexes(error, chunk.length);
        if (!lost) throw error;
        chunk.forEach((id, index) => {
          if (!lost.has(index)) won.add(id);
        });
      }
    });
    return won;
  }

  /** When the fence was won (the winner's clock), or null when nobody holds it. */
  async claimedAt(id: string): Promise<Date | null> {
    const fence = await this.#of(id).findOne({ _id: id }, { projection: { at: 1 } });
    return fence?.at ?? null;
  }

  async holder(id: string): Promise<string | null> {
    const fence = await this.#of(id).findOne({ _id: id });
    return fence?.holder ?? null;
  }

  /**
   * The holders of the fences among `ids` (all of one kind), a query per 1,000: a record's line fences
   * are read this way, not one by one (on FerretDB v1 each read scans every line's fence).
   */
  async holders(ids: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const fences = this.#of(chunk[0]!).find({ _id: { $in: chunk } }, { projection: { holder: 1 } });
      for await (const fence of fences) found.set(fence._id, fence.holder);
    }
    return found;
  }
}
