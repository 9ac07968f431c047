import { randomBytes } from "node:crypto";
import { Binary } from "mongodb";
import { type Collections, isDuplicateKey } from "./mongo.ts";

/** Where a text too large for its document went: `parts` chunk documents `<id>:0` … `<id>:<parts-1>`. */
export interface TextRef {
  id: string;
  parts: number;
  bytes: number;
}

/** A chunk of a large text (collection `textChunks`): UTF-8 bytes, so a split never cuts a character in two. */
export interface TextChunkDoc {
  _id: string;
  data: Binary;
}

/**
 * Texts up to this size stay in their document. Anything larger (an answer of hundreds of embeddings)
 * goes to chunk documents, read back by `_id` only (the one lookup FerretDB v1 serves fast).
 */
export const INLINE_TEXT_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Large texts in chunk documents, each well under MongoDB's 16 MiB limit. A text is written before the
 * document pointing at it, under an id of its own per write: a crash in between leaves only unreferenced
 * chunks, and a replaced cache entry never mixes its chunks with an older entry's.
 */
export class LargeTexts {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  static needed(text: string): boolean {
    return text.length * 3 > INLINE_TEXT_BYTES && Buffer.byteLength(text) > INLINE_TEXT_BYTES;
  }

  async put(owner: string, text: string): Promise<TextRef> {
    const bytes = Buffer.from(text, "utf8");
    const id = `${owner}:${randomBytes(6).toString("hex")}`;
    const parts = Math.ceil(bytes.length / CHUNK_BYTES);
    // One chunk per command: each is up to 8 MiB, and a command is limited to 48 MB.
    for (let i = 0; i < parts; i++) {
      const data = new Binary(bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
      await this.#c.textChunks.insertOne({ _id: `${id}:${i}`, data }).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      });
    }
    return { id, parts, bytes: bytes.length };
  }

  async get(ref: TextRef): Promise<string> {
    const parts: Buffer[] = [];
    for (let i = 0; i < ref.parts; i++) {
      const chunk = await this.#c.textChunks.findOne({ _id: `${ref.id}:${i}` });
      if (!chunk) throw new Error(`large text ${ref.id} lacks its part ${i}`);
      parts.push(Buffer.from(chunk.data.buffer));
    }
    return Buffer.concat(parts).toString("utf8");
  }

  /** Removes a text no document points at (written for a document that turned out to exist already). */
  async drop(ref: TextRef): Promise<void> {
    const ids = Array.from({ length: ref.parts }, (_, i) => `${ref.id}:${i}`);
    await this.#c.textChunks.deleteMany({ _id: { $in: ids } }).catch(() => {});
  }
}
