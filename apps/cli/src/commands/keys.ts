import { CliError } from "../client.ts";
import type { Command } from "../command.ts";

/** A key as the operator API shows it (never its secret, except `key` once, at creation). */
interface GatewayKey {
  id: string;
  name: string;
  role: "client" | "admin";
  models: string[] | null;
  rpm: number | null;
  max_pending: number | null;
  hint: string;
  created_at: number;
  revoked_at: number | null;
  key?: string;
}

const USAGE =
  "usage: batch-gpt keys create --name TENANT [--admin] [--models a,b] [--rpm N] [--max-pending N] | keys list | keys revoke ID";

const positive = (flag: string, value: string | boolean | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || n < 1) {
    throw new CliError(`--${flag} must be a positive whole number`, 2);
  }
  return n;
};

/** `keys create|list|revoke`: gateway keys through the operator API (admin key needed once keys exist). */
export const keys: Command = {
  name: "keys",
  usage: "keys create|list|revoke",
  summary: "make a gateway key (shown once), list keys, or revoke one (every gateway stops taking it)",
  options: {
    name: { type: "string" },
    admin: { type: "boolean" },
    models: { type: "string" },
    rpm: { type: "string" },
    "max-pending": { type: "string" },
  },
  async run({ client, values, positionals, io, json }) {
    const [action, ...rest] = positionals;
    if (action === "create" && rest.length === 0) {
      if (typeof values.name !== "string") throw new CliError(USAGE, 2);
      const models = typeof values.models === "string" ? values.models.split(",").filter(Boolean) : undefined;
      const rpm = positive("rpm", values.rpm);
      const maxPending = positive("max-pending", values["max-pending"]);
      const made = await client.post<GatewayKey>("/keys", {
        name: values.name,
        admin: values.admin === true,
        ...(models ? { models } : {}),
        ...(rpm ? { rpm } : {}),
        ...(maxPending ? { max_pending: maxPending } : {}),
      });
      if (json) io.out(JSON.stringify(made, null, 2));
      else {
        io.out(`${made.id} (${made.role}, tenant ${made.name})`);
        io.out(`key: ${made.key}`);
        io.out("This is the only time the key is shown: store it now.");
      }
      return 0;
    }
    if (action === "list" && rest.length === 0) {
      const { data } = await client.get<{ data: GatewayKey[] }>("/keys");
      if (json) io.out(JSON.stringify(data, null, 2));
      else {
        io.out(["id".padEnd(20), "tenant".padEnd(24), "role".padEnd(7), "key", "limits / state"].join("  "));
        for (const k of data) io.out(row(k));
      }
      return 0;
    }
    if (action === "revoke" && rest.length === 1) {
      const revoked = await client.delete<GatewayKey>(`/keys/${encodeURIComponent(rest[0] as string)}`);
      io.out(json ? JSON.stringify(revoked, null, 2) : `${revoked.id} revoked (tenant ${revoked.name})`);
      return 0;
    }
    throw new CliError(USAGE, 2);
  },
};

function row(k: GatewayKey): string {
  const limits = [
    k.models ? `models ${k.models.join(",")}` : null,
    k.rpm ? `${k.rpm} rpm` : null,
    k.max_pending ? `${k.max_pending} pending` : null,
    k.revoked_at ? `revoked ${new Date(k.revoked_at * 1000).toISOString()}` : null,
  ].filter(Boolean);
  return [k.id.padEnd(20), k.name.padEnd(24), k.role.padEnd(7), k.hint, limits.join("; ") || "-"].join("  ");
}
