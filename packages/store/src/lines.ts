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

/** One chunk of a batch record's line manifest, format 1: one object per line. Still read. */
export interface LineChunkDocV1 {
  _id: string;
  recordId: string;
  v: 1;
  lines: LineInfo[];
}

/**
 * Format 2: the chunk's lines as one JSON text (`[[requestId, attempt, key, owner], …]`), and how many
 * chunks the manifest has. FerretDB v1 decodes every document of the collection for a query and parses
 * each one's JSON for a lookup by `_id`: with 4,000 small objects per document, reading a 50,000-line
 * manifest took 8 s one chunk at a time (3.8 s in one query); as one string per chunk, 1.4 s (0.35 s).
 */
export interface LineChunkDocV2 {
  _id: string;
  recordId: string;
  v: 2;
  /** Chunks of the manifest (`<recordId>:0` … `<recordId>:<of - 1>`). */
  of: number;
  text: string;
}

export type LineChunkDoc = LineChunkDocV1 | LineChunkDocV2;

type PackedLine = [requestId: string, attempt: number, key: string, owner: string];

/** Lines per manifest document at most. */
const LINES_PER_DOC = 1000;
/**
 * Characters of text per manifest document at most: a chunk ends at whichever comes first, so that a
 * document stays far below MongoDB's 16 MiB whatever the keys' and tenants' lengths.
 */
const CHARS_PER_DOC = 2 * 1024 * 1024;
/** Chunk ids per query when reading a manifest. */
const IDS_PER_QUERY = 100;
/** Chunk ids per delete when dropping manifests. */
const IDS_PER_DELETE = 1000;

/**
 * A batch record's line manifest: what the poller needs about each line travels with the batch, in
 * documents of a bounded size (a 50,000-line batch is 50 of them), written once by the collator and
 * read in two queries when the batch settles. A line the manifest lacks (a record written before it
 * existed, or a collator that died before writing it) is settled by reading its request instead.
 */
export class BatchLines {
  readonly #c: Collections;

  constructor(collections: Collections) {
    this.#c = collections;
  }

  /** Safe to repeat: a chunk already written stays as it is (the same lines cut the same chunks). */
  async write(recordId: string, lines: LineInfo[]): Promise<void> {
    const texts: string[] = [];
    let packed: string[] = [];
    let chars = 0;
    for (const { requestId, attempt, key, owner } of lines) {
      const text = JSON.stringify([requestId, attempt, key, owner] satisfies PackedLine);
      if (packed.length > 0 && (packed.length >= LINES_PER_DOC || chars + text.length > CHARS_PER_DOC)) {
        texts.push(`[${packed.join(",")}]`);
        packed = [];
        chars = 0;
      }
      packed.push(text);
      chars += text.length + 1;
    }
    if (packed.length > 0) texts.push(`[${packed.join(",")}]`);
    if (texts.length === 0) return;
    const docs: LineChunkDocV2[] = texts.map((text, chunk) => ({
      _id: `${recordId}:${chunk}`,
      recordId,
      v: 2,
      of: texts.length,
      text,
    }));
    await this.#c.batchLines.insertMany(docs, { ordered: false }).catch((error: unknown) => {
      if (!duplicateKeyIndexes(error, docs.length)) throw error;
    });
  }

  /**
   * The manifest of a record by line id (`lineId(request, attempt)`); empty when none was written.
   * By `_id` only: the one filter FerretDB v1 does not evaluate by decoding every document of the
   * collection (a query on `recordId` took 5.8 s over 200 manifests). The first chunk says how many
   * there are (format 2), and the others are read together; a format-1 manifest, chunk by chunk until
   * one is missing.
   */
  async read(recordId: string): Promise<Map<string, LineInfo>> {
    const byLine = new Map<string, LineInfo>();
    const first = await this.#c.batchLines.findOne({ _id: `${recordId}:0` });
    if (!first) return byLine;
    addChunk(byLine, first);
    if (first.v === 2) {
      const ids = Array.from({ length: first.of - 1 }, (_, i) => `${recordId}:${i + 1}`);
      for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
        const docs = await this.#c.batchLines
          .find({ _id: { $in: ids.slice(i, i + IDS_PER_QUERY) } })
          .toArray();
        for (const doc of docs) addChunk(byLine, doc);
      }
      return byLine;
    }
    for (let chunk = 1; ; chunk++) {
      const doc = await this.#c.batchLines.findOne({ _id: `${recordId}:${chunk}` });
      if (!doc) return byLine;
      addChunk(byLine, doc);
    }
  }

  /**
   * Deletes a settled record's manifest. Settling was its only reader, and on FerretDB v1 every read of
   * a manifest decodes every manifest of the collection: kept, the finished ones made each settle slower
   * as history grew (the `history` bench's seeded store held 200 of 1,000 lines). By `_id` only. Safe
   * to repeat; a manifest left behind (a poller stopped in between) goes with `dropFinished`.
   */
  async drop(recordId: string): Promise<void> {
    const first = await this.#c.batchLines.findOne({ _id: `${recordId}:0` }, { projection: { v: 1, of: 1 } });
    if (!first) return;
    if (first.v === 2) {
      await this.#deleteChunks(Array.from({ length: first.of }, (_, i) => `${recordId}:${i}`));
      return;
    }
    // Format 1 says not how many chunks it has: one after the other until one is missing.
    for (let chunk = 0; ; chunk++) {
      if ((await this.#c.batchLines.deleteOne({ _id: `${recordId}:${chunk}` })).deletedCount === 0) return;
    }
  }

  /**
   * Deletes the manifests of the records `done` says are finished (given every record that has one):
   * those an earlier version kept, or a poller stopped before it dropped. One read of every manifest's
   * ids (on FerretDB v1 a scan of the collection, small once finished ones are gone), then deletes by
   * `_id`. Returns how many records' manifests it deleted.
   */
  async dropFinished(done: (recordIds: string[]) => Promise<Set<string>>): Promise<number> {
    const chunks = await this.#c.batchLines.find({}, { projection: { _id: 1, recordId: 1 } }).toArray();
    if (chunks.length === 0) return 0;
    const finished = await done([...new Set(chunks.map((c) => c.recordId))]);
    await this.#deleteChunks(chunks.filter((c) => finished.has(c.recordId)).map((c) => c._id));
    return finished.size;
  }

  /** Deletes manifest chunks by `_id`, `IDS_PER_DELETE` per command. */
  async #deleteChunks(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += IDS_PER_DELETE)
      await this.#c.batchLines.deleteMany({ _id: { $in: ids.slice(i, i + IDS_PER_DELETE) } });
  }
}

function addChunk(byLine: Map<string, LineInfo>, doc: LineChunkDoc): void {
  if (doc.v === 2) {
    for (const [requestId, attempt, key, owner] of JSON.parse(doc.text) as PackedLine[]) {
      byLine.set(lineId(requestId, attempt), { requestId, attempt, key, owner });
    }
    return;
  }
  for (const line of doc.lines) byLine.set(lineId(line.requestId, line.attempt), line);
}
