import type { ParseArgsConfig } from "node:util";
import type { AdminClient } from "./client.ts";

/** Where a command writes: stdout and stderr, and whether stdout is a terminal (the watch display). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}

export interface CommandContext {
  client: AdminClient;
  /** The parsed flags (the command's own and the global ones). */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  io: Output;
  /** Set by --json: print the API's JSON answer instead of text. */
  json: boolean;
  /** Stops a long-running command (Ctrl-C). */
  signal: AbortSignal;
}

/**
 * One subcommand: `batch-gpt <name> …`. Its flags are declared for `util.parseArgs`; it returns the
 * exit code. A command with subcommands of its own (`keys create|list|revoke`) reads them from
 * `positionals`.
 */
export interface Command {
  name: string;
  /** The synopsis after `batch-gpt`, e.g. `cancel ID`. */
  usage: string;
  summary: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  run(ctx: CommandContext): Promise<number>;
}
