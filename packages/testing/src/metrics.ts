/** The value of one sample of a Prometheus text exposition: `name` with exactly `labels`. */
export function sampleOf(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    const wanted = Object.entries(labels);
    if (Object.keys(got).length === wanted.length && wanted.every(([k, v]) => got[k] === v))
      return Number(match[3]);
  }
  return undefined;
}

/** Reads a /metrics page; `sample` then reads one value off it (0 when the series is absent). */
export async function scrapeMetrics(url: string): Promise<{
  text: string;
  sample(name: string, labels?: Record<string, string>): number;
}> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  const text = await res.text();
  return { text, sample: (name, labels) => sampleOf(text, name, labels) ?? 0 };
}
