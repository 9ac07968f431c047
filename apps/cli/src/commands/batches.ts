import { setTimeout as sleep } from "node:timers/promises";
import { type AdminBatch, type AdminBatchList, BATCH_FILTERS } from "@batch-gpt/contracts";
import { CliError } from "../client.ts";
import type { Command, CommandContext } from "../command.ts";
import { duration, progressBar, table } from "../format.ts";

export const batches: Command = {
  name: "batches",
  usage: `batches [--status ${BATCH_FILTERS.join("|")}] [--limit N] [--offset N] [--watch [--interval SECONDS]]`,
  summary: "list batches, newest first; --watch follows them until none of those shown is active",
  options: {
    status: { type: "string", default: "all" },
    limit: { type: "string", default: "20" },
    offset: { type: "string", default: "0" },
    watch: { type: "boolean", short: "w", default: false },
    interval: { type: "string", default: "2" },
  },
  async run(ctx) {
    const status = String(ctx.values.status);
    if (!(BATCH_FILTERS as readonly string[]).includes(status)) {
      throw new CliError(`--status must be one of ${BATCH_FILTERS.join(", ")}`, 2);
    }
    const limit = positiveInt(ctx.values.limit, "--limit");
    const offset = positiveInt(ctx.values.offset, "--offset", 0);
    const path = `/batches?status=${status}&limit=${limit}&offset=${offset}`;
    if (!ctx.values.watch) {
      const list = await ctx.client.get<AdminBatchList>(path);
      ctx.io.out(ctx.json ? JSON.stringify(list, null, 2) : renderList(list));
      return 0;
    }
    return watch(ctx, path, positiveInt(ctx.values.interval, "--interval") * 1000);
  },
};

/**
 * Redraws the list every interval: in place on a terminal, else a new frame whenever it changed.
 * Ends when none of the batches shown is still active (or on Ctrl-C).
 */
async function watch(ctx: CommandContext, path: string, intervalMs: number): Promise<number> {
  const { io } = ctx;
  let last = "";
  while (!ctx.signal.aborted) {
    const list = await ctx.client.get<AdminBatchList>(path);
    const active = list.data.filter((b) => b.view === "active").length;
    const frame = ctx.json
      ? JSON.stringify(list)
      : `${renderList(list)}\n${active ? `${active} active · refreshing every ${intervalMs / 1000}s (Ctrl-C to stop)` : "nothing active"}`;
    if (io.isTTY && !ctx.json) io.out(`\x1b[H\x1b[2J${frame}`);
    else if (frame !== last) io.out(ctx.json ? frame : `${frame}\n`);
    last = frame;
    if (active === 0) return 0;
    await sleep(intervalMs, undefined, { signal: ctx.signal }).catch(() => {});
  }
  return 130;
}

export function renderList(list: AdminBatchList, now = Date.now()): string {
  const counts = BATCH_FILTERS.map((f) => `${f} ${list.counts[f]}`).join(" · ");
  if (list.data.length === 0)
    return `no ${list.status === "all" ? "" : `${list.status} `}batches (${counts})`;
  const rows = list.data.map((b) => row(b, now));
  const header = ["BATCH", "STATUS", "MODEL", "ENDPOINT", "PROGRESS", "REQUESTS", "AGE", "TOOK"];
  const shown = `${list.offset + 1}-${list.offset + list.data.length} of ${list.total} ${list.status}`;
  return `${table(header, rows)}\n${shown} (${counts})`;
}

function row(b: AdminBatch, now: number): string[] {
  const { total, completed, failed } = b.requests;
  const created = Date.parse(b.createdAt);
  return [
    b.providerBatchId ?? b.id,
    b.status,
    b.model,
    b.endpoint,
    progressBar(completed, failed, total),
    `${completed}/${total}${failed ? ` (${failed} failed)` : ""}`,
    duration(now - created),
    b.finishedAt ? duration(Date.parse(b.finishedAt) - created) : "-",
  ];
}

function positiveInt(value: unknown, flag: string, min = 1): number {
  const n = Number(value);
  if (!/^\d+$/.test(String(value)) || n < min) throw new CliError(`${flag} must be an integer >= ${min}`, 2);
  return n;
}
