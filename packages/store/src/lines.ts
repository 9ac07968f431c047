import { lineId } from "@batch-gpt/contracts";
import { type Collections, duplicateKeyIndexes } from "./mongo.ts";

/** What settling a line needs to know about its request, so the poller reads no request per line. */
export interface LineInfo {
  requestId: string;
  attempt: number;
  /** Cache / dedup key. */
  key: string;
  /** The tenant. */
  owner: string;
}

/** One chunk of a batch record's line manifest. */
export interface LineChunkDoc {
  _id: string;
  recordId: string;
  /** Format version of this document. */
  v: 1;
  lines: LineInfo[];
}

/** Lines per manifest document: 1,000 lines of ~150 bytes each, far below MongoDB's 16 MiB limit. */
const LINES_PER_DOC = 1000;

/**
 * A batch record's line manifest: what the poller needs about each line travels with the batch, in
 * documents of a bounded size (a 50,000-line batch is 50 of them), written once by the collator and
 * read in one query when the batch settles. A line the manifest lacks (a record written before it
 * existed, or a collator that died before writing it) is settled by reading its request instead.
 */
export class BatchLines {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  /** Safe to repeat: a chunk already written stays as it is. */
  async write(recordId: string, lines: LineInfo[]): Promise<void> {
    const docs: LineChunkDoc[] = [];
    for (let i = 0; i < lines.length; i += LINES_PER_DOC) {
      docs.push({
        _id: `${recordId}:${i / LINES_PER_DOC}`,
        recordId,
        v: 1,
        lines: lines.slice(i, i + LINES_PER_DOC),
      });
    }
    if (docs.length === 0) return;
    await this.#c.batchLines.insertMany(docs, { ordered: false }).catch((error: unknown) => {
      if (!duplicateKeyIndexes(error, docs.length)) throw error;
    });
  }

  /**
   * The manifest of a record by line id (`lineId(request, attempt)`); empty when none was written.
   * Chunk by chunk by `_id`, until one is missing: the one filter FerretDB v1 does not evaluate by
   * decoding every document of the collection (a query on `recordId` took 5.8 s over 200 manifests).
   */
  async read(recordId: string): Promise<Map<string, LineInfo>> {
    const byLine = new Map<string, LineInfo>();
    for (let chunk = 0; ; chunk++) {
      const doc = await this.#c.batchLines.findOne({ _id: `${recordId}:${chunk}` });
      if (!doc) return byLine;
      for (const line of doc.lines) byLine.set(lineId(line.requestId, line.attempt), line);
    }
  }
}
