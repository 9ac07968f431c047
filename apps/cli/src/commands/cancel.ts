import type { AdminBatch } from "@batch-gpt/contracts";
import { CliError } from "../client.ts";
import type { Command } from "../command.ts";

export const cancel: Command = {
  name: "cancel",
  usage: "cancel ID",
  summary: "cancel a batch (its provider id or our record id); its unfinished requests are sent again",
  options: {},
  async run({ client, positionals, io, json }) {
    const [id, ...extra] = positionals;
    if (!id || extra.length) throw new CliError("usage: batch-gpt cancel ID", 2);
    const batch = await client.post<AdminBatch>(`/batches/${encodeURIComponent(id)}/cancel`);
    io.out(
      json
        ? JSON.stringify(batch, null, 2)
        : `${batch.providerBatchId ?? batch.id} (${batch.id}): ${batch.status}; its unfinished requests will be sent again`,
    );
    return 0;
  },
};
