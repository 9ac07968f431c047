import type { Command } from "../command.ts";
import { batches } from "./batches.ts";
import { cancel } from "./cancel.ts";
import { erase } from "./erase.ts";
import { flush } from "./flush.ts";
import { keys } from "./keys.ts";
import { requests } from "./requests.ts";
import { status } from "./status.ts";

/** Every subcommand, in the order `batch-gpt --help` lists them. A new one is a file here and a line below. */
export const COMMANDS: readonly Command[] = [status, batches, cancel, flush, requests, keys, erase];
