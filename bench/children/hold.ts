/**
 * Load generator: `n` concurrent POSTs, each on its own connection, opened in small steps (so the server's
 * listen backlog does not overflow) and then kept open. Sends {type: "sent"} once every request is
 * written, then waits for {type: "release"}, closes them all, sends {type: "result"} and exits.
 *
 * Reads its job as JSON in argv[2].
 */
import { Agent, type ClientRequest, request } from "node:http";
import { AUTH_HEADERS, chatBody } from "../lib/bodies.ts";

export interface HoldJob {
  url: string;
  n: number;
  tag: string;
  /** Requests opened per step, and the pause between steps. */
  step: number;
  stepMs: number;
}

export interface HoldReport {
  type: "sent" | "result";
  sent: number;
  written: number;
  /** Answers that came back while the requests were meant to be held. */
  answered: number;
  statuses: Record<string, number>;
  errors: number;
  /** Errors by code (ECONNRESET, ...). */
  errorCodes: Record<string, number>;
  sendMs: number;
}

const job = JSON.parse(process.argv[2] ?? "{}") as HoldJob;
const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
const open: ClientRequest[] = [];
let released = false;
let written = 0;
let answered = 0;
let errors = 0;
const statuses: Record<string, number> = {};
const errorCodes: Record<string, number> = {};

const report = (type: HoldReport["type"]): HoldReport => ({
  type,
  sent: open.length,
  written,
  answered,
  statuses,
  errors,
  errorCodes,
  sendMs: Math.round(performance.now() - start),
});

const start = performance.now();
let allWritten: () => void = () => {};
const done = new Promise<void>((resolve) => {
  allWritten = resolve;
});
const settled = () => {
  if (written + errors >= job.n) allWritten();
};

for (let i = 0; i < job.n; i++) {
  const body = chatBody(job.tag, i);
  const req = request(job.url, {
    method: "POST",
    agent,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...AUTH_HEADERS,
    },
  });
  req.on("response", (res) => {
    answered += 1;
    statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
    res.resume();
  });
  req.on("error", (err: NodeJS.ErrnoException) => {
    if (released) return;
    errors += 1;
    const code = err.code ?? err.message;
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    settled();
  });
  req.end(body, () => {
    written += 1;
    settled();
  });
  open.push(req);
  if ((i + 1) % job.step === 0) await new Promise((r) => setTimeout(r, job.stepMs));
}
await done;
process.send?.(report("sent"));

process.on("message", (m) => {
  if ((m as { type?: string }).type !== "release") return;
  released = true;
  for (const req of open) req.destroy();
  process.send?.(report("result"), () => process.exit(0));
});
