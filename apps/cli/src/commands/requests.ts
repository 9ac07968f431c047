import type { RequestTrace } from "@batch-gpt/contracts";
import { CliError } from "../client.ts";
import type { Command } from "../command.ts";

export const requests: Command = {
  name: "requests",
  usage: "requests ID",
  summary: "trace one request (its id, or an async call's id) through its attempts and batches",
  options: {},
  async run({ client, positionals, io, json }) {
    const [id, ...extra] = positionals;
    if (!id || extra.length) throw new CliError("usage: batch-gpt requests ID", 2);
    const trace = await client.get<RequestTrace>(`/requests/${encodeURIComponent(id)}`);
    io.out(json ? JSON.stringify(trace, null, 2) : renderTrace(trace));
    return 0;
  },
};

export function renderTrace(t: RequestTrace): string {
  const lines = [
    `request  ${t.id}${t.callId ? ` (async call ${t.callId})` : ""}`,
    `state    ${t.state}${t.job ? ` (job ${t.job})` : ""}${t.answer ? `, answered ${t.answer.statusCode}` : ""}`,
    `model    ${t.model ?? "-"}  endpoint ${t.endpoint ?? "-"}  tenant ${t.tenant ?? "-"}`,
    `trace    ${t.traceId ?? "-"}  created ${t.createdAt ?? "-"}`,
  ];
  for (const { attempt, batch } of t.attempts) {
    lines.push(
      batch
        ? `attempt ${attempt}  batch ${batch.providerBatchId ?? "-"} (${batch.id})  ${batch.status}  ${batch.requests.completed}/${batch.requests.total} done`
        : `attempt ${attempt}  not in a batch yet`,
    );
  }
  return lines.join("\n");
}
