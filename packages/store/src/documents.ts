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

/** Room for a document's field names, numbers and dates: far more than the store's documents take. */
const FIXED_FIELDS_BYTES = 16 * 1024;

/**
 * Whether a document whose strings are `texts` (all of them) fits for sure, from their lengths alone:
 * UTF-8 takes at most 3 bytes per UTF-16 unit. Only a document that may not fit is measured
 * (`assertFits`): measuring each of a 50,000-line batch's documents in BSON cost the collator and the
 * poller about half a second of CPU each.
 */
export function surelyFits(...texts: (string | null | undefined)[]): boolean {
  let chars = 0;
  for (const text of texts) chars += text?.length ?? 0;
  return chars * 3 + FIXED_FIELDS_BYTES <= MAX_DOCUMENT_BYTES;
}

/** Throws `DocumentTooLarge` for a document MongoDB would refuse. */
export function assertFits(doc: { _id: unknown }): void {
  const bytes = documentBytes(doc);
  if (bytes > MAX_DOCUMENT_BYTES) throw new DocumentTooLarge(doc._id, bytes);
}
