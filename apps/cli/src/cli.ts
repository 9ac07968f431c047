import { type ParseArgsConfig, parseArgs } from "node:util";
import { AdminClient, CliError } from "./client.ts";
import type { Command, Output } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";

/** Flags every command takes (before or after the command's name). */
const GLOBAL_OPTIONS = {
  url: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

const DEFAULT_URL = "http://127.0.0.1:8080";

export function usage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: batch-gpt <command> [flags]",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "flags of every command:",
    `  --url URL    the gateway (else BATCH_GPT_URL, else ${DEFAULT_URL})`,
    "  --key KEY    an admin key (else BATCH_GPT_ADMIN_KEY; none needed when the gateway has no keys)",
    "  --json       print the admin API's JSON",
    "  -h, --help   this help, or a command's: batch-gpt <command> --help",
  ].join("\n");
}

/**
 * Runs `batch-gpt ARGS`: finds the command (the first word that is not a flag), parses its flags and the
 * global ones with `util.parseArgs`, and runs it against the gateway's admin API. Returns the exit code:
 * 0 done, 1 failed, 2 usage error, 130 stopped.
 */
export async function run(
  args: string[],
  opts: {
    env: Record<string, string | undefined>;
    io: Output;
    signal?: AbortSignal;
    commands?: readonly Command[];
  },
): Promise<number> {
  const { io, env } = opts;
  const commands = opts.commands ?? COMMANDS;
  const at = args.findIndex((a) => !a.startsWith("-"));
  const name = at === -1 ? undefined : args[at];
  const command = commands.find((c) => c.name === name);
  if (!command) {
    const help = args.includes("--help") || args.includes("-h") || args.length === 0;
    if (name !== undefined) io.err(`batch-gpt: unknown command '${name}'`);
    (help && name === undefined ? io.out : io.err)(usage(commands));
    return help && name === undefined ? 0 : 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...args.slice(0, at), ...args.slice(at + 1)],
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    io.err(`batch-gpt ${command.name}: ${(error as Error).message}\nusage: batch-gpt ${command.usage}`);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    io.out(`usage: batch-gpt ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  const url = (values.url as string | undefined) || env.BATCH_GPT_URL || DEFAULT_URL;
  const key = (values.key as string | undefined) || env.BATCH_GPT_ADMIN_KEY || undefined;
  try {
    return await command.run({
      client: new AdminClient(url, key),
      values,
      positionals: parsed.positionals,
      io,
      json: values.json === true,
      signal: opts.signal ?? new AbortController().signal,
    });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.err(`batch-gpt ${command.name}: ${error.message}`);
    return error.exitCode;
  }
}
