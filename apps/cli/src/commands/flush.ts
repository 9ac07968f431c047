import type { FlushResult } from "@batch-gpt/contracts";
import type { Command } from "../command.ts";
import { count } from "../format.ts";

export const flush: Command = {
  name: "flush",
  usage: "flush [--model MODEL]",
  summary: "collate now what the collators hold (one model's requests, or every model's)",
  options: { model: { type: "string" } },
  async run({ client, values, io, json }) {
    const model = typeof values.model === "string" ? values.model : null;
    const result = await client.post<FlushResult>("/flush", { model });
    if (json) io.out(JSON.stringify(result, null, 2));
    else io.out(`flush of ${model ?? "every model"} sent to ${count(result.collators, "collator")}`);
    if (result.collators === 0) {
      io.err("no collator is running: nothing was flushed");
      return 1;
    }
    return 0;
  },
};
