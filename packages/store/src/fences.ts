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

  /** Claims many fences at once (a few commands of 1,000); returns the ids this caller won. */
  async claimMany(ids: string[], holder: string): Promise<Set<string>> {
    const won = new Set<string>();
    const at = new Date();
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      try {
        await this.#c.fences.insertMany(
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
    }
    return won;
  }

  /** When the fence was won (the winner's clock), or null when nobody holds it. */
  async claimedAt(id: string): Promise<Date | null> {
    const fence = await this.#c.fences.findOne({ _id: id }, { projection: { at: 1 } });
    return fence?.at ?? null;
  }

  async holder(id: string): Promise<string | null> {
    const fence = await this.#c.fences.findOne({ _id: id });
    return fence?.holder ?? null;
  }
}
