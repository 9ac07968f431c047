import { type Collections, duplicateKeyIndexes, isDuplicateKey } from "./mongo.ts";

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

  /** True when this caller won the fence. */
  async claim(id: string, holder: string): Promise<boolean> {
    try {
      await this.#c.fences.insertOne({ _id: id, holder, at: new Date() });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /** Claims many fences at once; returns the ids this caller won. */
  async claimMany(ids: string[], holder: string): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const at = new Date();
    try {
      await this.#c.fences.insertMany(
        ids.map((_id) => ({ _id, holder, at })),
        { ordered: false },
      );
      return new Set(ids);
    } catch (error) {
      const lost = duplicateKeyIndexes(error, ids.length);
      if (!lost) throw error;
      return new Set(ids.filter((_, i) => !lost.has(i)));
    }
  }

  async holder(id: string): Promise<string | null> {
    const fence = await this.#c.fences.findOne({ _id: id });
    return fence?.holder ?? null;
  }
}
