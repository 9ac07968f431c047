import { BSON } from "mongodb";

/**
 * MongoDB's limit on one document. FerretDB v1 stores larger ones, MongoDB refuses them: the store
 * checks every document it writes that could approach the limit (outcomes, cache entries, requests),
 * so what passes on FerretDB passes on MongoDB too.
 */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** A document's size as MongoDB counts it (BSON). */
export const documentBytes = (doc: object): number => BSON.calculateObjectSize(doc);

/** Refused before it is sent: MongoDB would refuse it (FerretDB would not). */
export class DocumentTooLarge extends Error {
  readonly bytes: number;
  constructor(id: unknown, bytes: number) {
    super(`document ${String(id)} is ${bytes} bytes, over MongoDB's limit of ${MAX_DOCUMENT_BYTES}`);
    this.name = "DocumentTooLarge";
    this.bytes = bytes;
  }
}

/** Throws `DocumentTooLarge` for a document MongoDB would refuse. */
export function assertFits(doc: { _id: unknown }): void {
  const bytes = documentBytes(doc);
  if (bytes > MAX_DOCUMENT_BYTES) throw new DocumentTooLarge(doc._id, bytes);
}
