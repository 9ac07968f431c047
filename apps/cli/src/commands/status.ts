import type { AdminOverview } from "@batch-gpt/contracts";
import type { Command } from "../command.ts";
import { count, table } from "../format.ts";

export const status: Command = {
  name: "status",
  usage: "status",
  summary:
    "the deployment's figures: batches by status, requests waiting to be collated, cache, held callers",
  options: {},
  async run({ client, io, json }) {
    const o = await client.get<AdminOverview>("/overview");
    if (json) {
      io.out(JSON.stringify(o, null, 2));
      return 0;
    }
    io.out(renderOverview(o));
    return 0;
  },
};

export function renderOverview(o: AdminOverview): string {
  const b = o.batches;
  const rate =
    o.cache.hitRate === null ? "no lookups yet" : `${(o.cache.hitRate * 100).toFixed(1)}% hit rate`;
  const lines = [
    `batches  active ${b.active} · completed ${b.completed} · failed ${b.failed} · expired ${b.expired} · cancelled ${b.cancelled} · all ${b.all}`,
    `queue    ${count(o.queue.total, "request")} waiting to be collated`,
  ];
  if (o.queue.models.length) {
    const rows = o.queue.models.map((m) => [m.model, String(m.waiting), String(m.held), String(m.delayed)]);
    lines.push(indent(table(["model", "waiting", "held", "delayed"], rows)));
  }
  lines.push(
    `cache    ${rate} (${count(o.cache.hits, "hit")}, ${count(o.cache.misses, "miss", "misses")})`,
    `callers  ${count(o.heldCallers.total, "sync caller")} held on ${count(o.heldCallers.gateways.length, "gateway")}`,
  );
  return lines.join("\n");
}

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
