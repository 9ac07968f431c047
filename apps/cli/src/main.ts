#!/usr/bin/env node
import { run } from "./cli.ts";

// Ctrl-C ends a long-running command (batches --watch) cleanly; a second one kills the process.
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());

process.exitCode = await run(process.argv.slice(2), {
  env: process.env,
  signal: stop.signal,
  io: {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    isTTY: process.stdout.isTTY === true,
  },
});
