/**
 * `read`, remembered for `ttlMs`: callers within that time share one result, and callers arriving
 * while it is being read share that read. A failed read is not remembered.
 */
export function cachedFor<T>(ttlMs: number, read: () => Promise<T>): () => Promise<T> {
  let value: { at: number; promise: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (value && now - value.at < ttlMs) return value.promise;
    const entry = { at: now, promise: read() };
    value = entry;
    entry.promise.catch(() => {
      if (value === entry) value = null;
    });
    return entry.promise;
  };
}
