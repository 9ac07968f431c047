/**
 * The baseline: a bare Hono server on @hono/node-server, as small as a JSON API gets on Node.
 * - POST /v1/* answers the JSON it got (the "Hono JSON echo" the throughput targets are ratios to);
 * - POST /hold/* reads the body, then holds the request until POST /release (or the client leaves);
 * - GET /stats tells how many requests are held; GET /healthz answers 200.
 * Listens on 127.0.0.1:$PORT. Paces its heap as the apps do (HEAP_GROWING_PERCENT), nothing more.
 */
import { setFlagsFromString } from "node:v8";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

// As the apps do (paceHeap in @batch-gpt/config, not imported: its dependencies would weigh on the
// baseline's memory), with the percentage the bench passes.
if (process.env.HEAP_GROWING_PERCENT)
  setFlagsFromString(`--heap-growing-percent=${process.env.HEAP_GROWING_PERCENT}`);

// Loaded only to fill Node's compile cache (as the apps honour it): the baseline runs warm as they do.
if (process.env.BATCH_GPT_LOAD_ONLY === "1") process.exit(0);

const port = Number(process.env.PORT);
const held = new Set<() => void>();

const app = new Hono();
app.get("/healthz", (c) => c.json({ status: "ok" }));
app.get("/stats", (c) => c.json({ held: held.size }));
app.post("/release", (c) => {
  const count = held.size;
  for (const release of held) release();
  held.clear();
  return c.json({ released: count });
});
app.post("/hold/*", async (c) => {
  await c.req.json();
  await new Promise<void>((resolve) => {
    const release = () => {
      held.delete(release);
      resolve();
    };
    held.add(release);
    c.req.raw.signal.addEventListener("abort", release, { once: true });
  });
  return c.json({ released: true });
});
app.post("/v1/*", async (c) => c.json(await c.req.json()));

const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => {
  console.log(`echo server listening on ${info.port}`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
