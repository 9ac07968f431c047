/**
 * Load generator: `n` distinct sync chat completions, each on its own connection, opened in small steps
 * (so the gateway's listen backlog does not overflow, as in hold.ts) and held until answered. Records
 * when each answer came back, as epoch milliseconds, so the bench can compare it with times the apps
 * logged or stored. Checks each answer is the emulator's ("echo: " + the message).
 *
 * Reads its job as JSON in argv[2]; sends {type: "sent"} once every request is written, then
 * {type: "result", ...} once every call is answered or failed, or at `deadlineMs`, and exits.
 */
import { Agent, request } from "node:http";
import { AUTH_HEADERS, CHAT_PATH, chatBody, chatText } from "../lib/bodies.ts";
import { percentile } from "../lib/stats.ts";

export interface CallersJob {
  /** The gateway, e.g. http://127.0.0.1:PORT. */
  url: string;
  n: number;
  tag: string;
  step: number;
  stepMs: number;
  deadlineMs: number;
}

export interface CallersResult {
  type: "sent" | "result";
  n: number;
  written: number;
  answered: number;
  /** Answered 200 with the emulator's answer to that very call. */
  correct: number;
  failed: number;
  statuses: Record<string, number>;
  errorCodes: Record<string, number>;
  /** Epoch ms: the first request opened, the last one written. */
  startedAt: number;
  sentAt: number;
  /** Epoch ms of the first and last answer, and the median and 90th percentile of the answer times. */
  firstAnswerAt: number;
  lastAnswerAt: number;
  p50AnswerAt: number;
  p90AnswerAt: number;
}

const job = JSON.parse(process.argv[2] ?? "{}") as CallersJob;
const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
const now = () => performance.timeOrigin + performance.now();
const answerTimes: number[] = [];
const statuses: Record<string, number> = {};
const errorCodes: Record<string, number> = {};
let written = 0;
let correct = 0;
let failed = 0;
let sentAt = Number.NaN;
let finish: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  finish = resolve;
});
const check = () => {
  if (answerTimes.length + failed >= job.n) finish();
};

const report = (type: CallersResult["type"]): CallersResult => ({
  type,
  n: job.n,
  written,
  answered: answerTimes.length,
  correct,
  failed,
  statuses,
  errorCodes,
  startedAt,
  sentAt,
  firstAnswerAt: answerTimes.length ? Math.min(...answerTimes) : Number.NaN,
  lastAnswerAt: answerTimes.length ? Math.max(...answerTimes) : Number.NaN,
  p50AnswerAt: percentile(answerTimes, 50),
  p90AnswerAt: percentile(answerTimes, 90),
});

const startedAt = now();
for (let i = 0; i < job.n; i++) {
  const body = chatBody(job.tag, i);
  const expected = `echo: ${chatText(job.tag, i)}`;
  const req = request(`${job.url}${CHAT_PATH}`, {
    method: "POST",
    agent,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...AUTH_HEADERS,
    },
  });
  req.on("response", (res) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => {
      answerTimes.push(now());
      const status = res.statusCode ?? 0;
      statuses[status] = (statuses[status] ?? 0) + 1;
      try {
        const reply = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          choices?: { message?: { content?: string } }[];
        };
        if (status === 200 && reply.choices?.[0]?.message?.content === expected) correct += 1;
      } catch {
        // counted as not correct
      }
      check();
    });
  });
  req.on("error", (err: NodeJS.ErrnoException) => {
    failed += 1;
    const code = err.code ?? err.message;
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    check();
  });
  req.end(body, () => {
    written += 1;
    if (written === job.n) {
      sentAt = now();
      process.send?.(report("sent"));
    }
  });
  if ((i + 1) % job.step === 0) await new Promise((r) => setTimeout(r, job.stepMs));
}

let timer: NodeJS.Timeout | undefined;
await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, job.deadlineMs)))]);
clearTimeout(timer);
process.send?.(report("result"), () => process.exit(0));
