/**
 * Queues async chat completions (`x-batch-mode: async`) of the bodies `body(from)` … `body(to - 1)` at a
 * gateway, 50 at a time, and returns their call ids. Throws unless every one is accepted (202).
 */
export async function queueAsyncCalls(
  gatewayUrl: string,
  from: number,
  to: number,
  body: (n: number) => unknown,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < to; i += 50) {
    const accepted = await Promise.all(
      Array.from({ length: Math.min(50, to - i) }, (_, k) =>
        fetch(`${gatewayUrl}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-batch-mode": "async" },
          body: JSON.stringify(body(i + k)),
        }),
      ),
    );
    for (const res of accepted) {
      if (res.status !== 202) throw new Error(`async call not queued: ${res.status} ${await res.text()}`);
      ids.push(((await res.json()) as { id: string }).id);
    }
  }
  return ids;
}
