import type { ErasureResult } from "@batch-gpt/contracts";
import { CliError } from "../client.ts";
import type { Command } from "../command.ts";
import { count } from "../format.ts";

const USAGE = "usage: batch-gpt erase --request ID | erase --tenant NAME";

/** `erase`: one request's (or one tenant's) stored prompts and answers, through the operator API. */
export const erase: Command = {
  name: "erase",
  usage: "erase --request ID | --tenant NAME",
  summary: "erase one finished request's prompt and answer (or an async call's), or everything of a tenant",
  options: { request: { type: "string" }, tenant: { type: "string" } },
  async run({ client, values, positionals, io, json }) {
    const request = typeof values.request === "string" ? values.request : undefined;
    const tenant = typeof values.tenant === "string" ? values.tenant : undefined;
    if (positionals.length > 0 || (request === undefined) === (tenant === undefined)) {
      throw new CliError(USAGE, 2);
    }
    const result = await client.post<ErasureResult>(
      request !== undefined
        ? `/requests/${encodeURIComponent(request)}/erase`
        : `/tenants/${encodeURIComponent(tenant!)}/erase`,
    );
    if (json) {
      io.out(JSON.stringify(result, null, 2));
      return 0;
    }
    const what = result.request ? `request ${result.request}` : `tenant ${result.tenant}`;
    io.out(
      `erased ${what}: ${count(result.requests, "request")} (prompt and answer), ${count(result.cacheEntries, "cache entry", "cache entries")}, ${count(result.calls, "async call")}`,
    );
    if (result.pending > 0) {
      io.err(`${count(result.pending, "unfinished request")} left as they are: erase again once they finish`);
    }
    return 0;
  },
};
