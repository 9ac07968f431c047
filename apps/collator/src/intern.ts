/**
 * One copy of a string many held jobs share (their tenant, provider, endpoint, model, queue name):
 * each job's payload is parsed apart, and a heap snapshot of a collator gathering a 50,000-line batch
 * found each of these 50,000 times over, some 8 MB in all.
 */
const copies = new Map<string, string>();
/** Past this many distinct values the table starts again: a value that varies from job to job only passes through. */
export const MAX_COPIES = 10_000;

export function intern<T extends string>(value: T): T {
  const copy = copies.get(value);
  if (copy !== undefined) return copy as T;
  if (copies.size >= MAX_COPIES) copies.clear();
  copies.set(value, value);
  return value;
}

/**
 * Distinct values kept. (Which copy a caller gets cannot be told apart in JavaScript; what is kept
 * can: its test counts it.)
 */
export function internedCount(): number {
  return copies.size;
}
