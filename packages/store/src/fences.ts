import { type Collections, isDuplicateKey } from "./mongo.ts";

/**
 * Fences make a step happen once. On FerretDB v1 a conditional update is read-modify-write (two racers
 * can both "win"), but a unique-_id insert is atomic everywhere; so every once-only transition inserts
 * `<subject>:<step>` and treats duplicate key (11000) as "someone else did it".
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
      const writeErrors = (
        error as { writeErrors?: { index: number; code: number }[] | { index: number; code: number } }
      ).writeErrors;
      const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
      if (list.length === 0 || list.some((e) => e.code !== 11000)) throw error;
      const lost = new Set(list.map((e) => e.index));
      return new Set(ids.filter((_, i) => !lost.has(i)));
    }
  }

  async holder(id: string): Promise<string | null> {
    const fence = await this.#c.fences.findOne({ _id: id });
    return fence?.holder ?? null;
  }
}
