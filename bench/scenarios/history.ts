/**
 * Target 2: history does not matter. The e2e-sync burst (N distinct sync calls at once through the
 * SDK) on a store already holding H earlier requests, answered and cached, against the same burst on an
 * empty store in the same run; the ratio of the times to the last answer.
 *
 * The history is seeded once, straight into MongoDB and Redis (bench/lib/seed.ts: documents shaped as
 * the apps write them, inserted 1,000 per command), into a database and queue prefix that every run's
 * seeded stack then uses; each run adds its own N requests to it. The empty-store stacks are fresh.
 */
import { AUTH_HEADERS, CHAT_PATH, freshTag } from "../lib/bodies.ts";
import {
  CPU_NOTE,
  type cpuPerRequestRows,
  cpuPerStoreRows,
  perRequestMicros,
  stackGroups,
} from "../lib/cpu.ts";
import { dropStackData } from "../lib/data.ts";
import { measuredBurst } from "../lib/load.ts";
import { expectCachedAnswer, type SeedResult, seedHistory } from "../lib/seed.ts";
import { BENCH_SETTINGS, startStack } from "../lib/stack.ts";
import { figure } from "../lib/stats.ts";
import { type BatchTimeline, batchTimeline, TIMELINE_NOTE, timelineRows } from "../lib/timeline.ts";
import type { Scenario } from "./types.ts";

/**
 * The apps read the seeded history as their own: an earlier body is answered from the cache (through
 * its Redis marker and MongoDB's cache), and an earlier async call is answered from its stored outcome.
 */
async function checkSeed(gatewayUrl: string, tag: string, sample: SeedResult["sample"]): Promise<void> {
  if (!sample) return;
  await expectCachedAnswer(gatewayUrl, tag, 0, "a seeded body");
  const call = await fetch(`${gatewayUrl}${CHAT_PATH}/${sample.callId}`, { headers: AUTH_HEADERS });
  const callText = await call.text();
  const content = (JSON.parse(callText) as { choices?: { message?: { content?: string } }[] }).choices?.[0]
    ?.message?.content;
  const want = (JSON.parse(sample.answer) as { choices: { message: { content: string } }[] }).choices[0]!
    .message.content;
  if (call.status !== 200 || content !== want) {
    throw new Error(
      `the seeded history is not the apps' own: a seeded call got ${call.status} ${callText.slice(0, 200)}`,
    );
  }
}

export const history: Scenario = {
  name: "history",
  title: "End to end with history: the e2e-sync burst on a store of earlier requests",
  async run({ opts, services, scope, log }) {
    const n = opts.e2eCalls;
    const h = opts.history;
    const id = `${process.pid}_history_${Date.now().toString(36)}`;
    const seededEnv = { MONGO_DATABASE: `bench_${id}`, BULL_PREFIX: `bench-${id}` };
    const floorS = (BENCH_SETTINGS.windowMs + BENCH_SETTINGS.batchDurationMs) / 1000;
    const last: number[] = [];
    const first: number[] = [];
    const mid: number[] = [];
    const unanswered: number[] = [];
    const emptyLast: number[] = [];
    const emptyFirst: number[] = [];
    const emptyMid: number[] = [];
    const ratio: number[] = [];
    const timelines: BatchTimeline[] = [];
    const emptyTimelines: BatchTimeline[] = [];
    const cpu: Parameters<typeof cpuPerRequestRows>[0] = [];
    const emptyCpu: Parameters<typeof cpuPerRequestRows>[0] = [];
    const details: unknown[] = [];
    const lastOf = (r: { lastMs: number; unanswered: number; failed: number }) =>
      r.unanswered + r.failed > 0 ? Number.POSITIVE_INFINITY : r.lastMs / 1000;

    log(`seeding ${h.toLocaleString("en-US")} earlier requests into MongoDB and Redis (insertMany of 1,000)`);
    const step = Math.max(1000, Math.ceil(h / 4 / 1000) * 1000);
    try {
      const seedTag = freshTag("history");
      const seed = await seedHistory(services, seededEnv, h, seedTag, (done) => {
        if (done % step === 0 && done < h) log(`  ${done.toLocaleString("en-US")} seeded`);
      });
      log(
        `  ${seed.documents.toLocaleString("en-US")} documents and ${seed.redisKeys.toLocaleString("en-US")} Redis markers in ${seed.seconds.toFixed(1)} s`,
      );
      for (let run = 1; run <= opts.runs; run++) {
        log(`run ${run}/${opts.runs}: ${n} calls at once through the gateway, empty store`);
        const empty = await startStack(scope, services);
        const { result: base, cpu: baseCpu } = await measuredBurst(
          stackGroups(empty, services),
          scope,
          `burst-empty-${run}`,
          {
            baseURL: `${empty.gatewayUrl}/v1`,
            n,
            tag: freshTag("e2e"),
            deadlineMs: opts.e2eDeadlineS * 1000,
            verify: true,
          },
        );
        await empty.stop();
        emptyTimelines.push(await batchTimeline(empty.collator.logFile, empty.poller.logFile));
        log(
          `  answered ${base.answered}/${n}, first ${(base.firstMs / 1000).toFixed(2)} s, last ${(base.lastMs / 1000).toFixed(2)} s`,
        );

        log(
          `run ${run}/${opts.runs}: ${n} calls at once, ${h.toLocaleString("en-US")} earlier requests stored`,
        );
        const seeded = await startStack(scope, services, { env: seededEnv });
        if (run === 1) await checkSeed(seeded.gatewayUrl, seedTag, seed.sample);
        const { result, cpu: seededCpu } = await measuredBurst(
          stackGroups(seeded, services),
          scope,
          `burst-history-${run}`,
          {
            baseURL: `${seeded.gatewayUrl}/v1`,
            n,
            tag: freshTag("e2e"),
            deadlineMs: opts.e2eDeadlineS * 1000,
            verify: true,
          },
        );
        await seeded.stop();
        timelines.push(await batchTimeline(seeded.collator.logFile, seeded.poller.logFile));
        log(
          `  answered ${result.answered}/${n}, first ${(result.firstMs / 1000).toFixed(2)} s, last ${(result.lastMs / 1000).toFixed(2)} s`,
        );
        emptyLast.push(lastOf(base));
        emptyFirst.push(base.firstMs / 1000);
        emptyMid.push(base.p50Ms / 1000);
        last.push(lastOf(result));
        first.push(result.firstMs / 1000);
        mid.push(result.p50Ms / 1000);
        unanswered.push(n - result.answered + result.wrong);
        ratio.push(lastOf(result) / lastOf(base));
        cpu.push(perRequestMicros(seededCpu, result.answered));
        emptyCpu.push(perRequestMicros(baseCpu, base.answered));
        details.push({
          run,
          history: result,
          empty: base,
          cpuSeconds: { history: seededCpu, empty: baseCpu },
        });
      }
      const ratioFigure = figure("×", ratio);
      const judged = h >= 200_000 && n >= 3000;
      return {
        params: {
          calls: n,
          earlierRequests: h,
          windowMs: BENCH_SETTINGS.windowMs,
          emulatorBatchMs: BENCH_SETTINGS.batchDurationMs,
          deadlineS: opts.e2eDeadlineS,
        },
        rows: [
          {
            label: "time to last answer (s)",
            value: figure("s", last),
            baseline: { label: "empty store", value: figure("s", emptyLast) },
          },
          {
            label: "ratio to the empty store (same run)",
            value: ratioFigure,
            target: {
              text: "≤ 1.2 × the empty store, with 200,000 earlier requests (3,000 calls)",
              met: judged ? ratioFigure.median <= 1.2 : null,
              ...(judged
                ? {}
                : { note: `${h.toLocaleString("en-US")} earlier requests and ${n} calls here` }),
            },
          },
          {
            label: "time to first answer (s)",
            value: figure("s", first),
            baseline: { label: "empty store", value: figure("s", emptyFirst) },
          },
          {
            label: "median caller waited (s)",
            value: figure("s", mid),
            baseline: { label: "empty store", value: figure("s", emptyMid) },
          },
          {
            label: `calls not answered correctly within ${opts.e2eDeadlineS} s (with history)`,
            value: figure("calls", unanswered),
          },
          // Which step of the burst grows with the history (the seeded runs, the empty store beside them).
          ...timelineRows(timelines, {
            flushing: true,
            baseline: { label: "empty store", runs: emptyTimelines },
          }),
          // Which process spends more with the history (per call, over each whole burst).
          ...cpuPerStoreRows(cpu, emptyCpu),
          { label: "seeding the history (s)", value: figure("s", [seed.seconds]) },
        ],
        notes: [
          `History seeded once, straight into MongoDB (insertMany of 1,000 per collection: requests, answers, cache, fences, calls for every other request, one done batch record per 1,000, and the marks the apps leave in \`meta\`) and Redis (\`cached:<key>\` markers), shaped as the apps write them: ${seed.documents.toLocaleString("en-US")} documents and ${seed.redisKeys.toLocaleString("en-US")} markers in ${seed.seconds.toFixed(1)} s. Every run's seeded stack uses that database, so run k holds ${n} × (k − 1) more.`,
          `Each run: the burst on a fresh empty store first, then on the seeded store; the ratio is taken run by run (floor ${floorS.toFixed(1)} s).`,
          "Checked before the first seeded run: an earlier body is answered from the cache, and an earlier async call by its id.",
          "A run with calls unanswered at its deadline counts as ∞ for the time to the last answer.",
          `${TIMELINE_NOTE} A batch is flushing from the collator's "batch flushing" line (its window over or the group full).`,
          `${CPU_NOTE} Here over each whole burst, from the first call to the last answer, per call answered; the baseline is the empty store's burst.`,
        ],
        details: [{ seed }, ...details],
      };
    } finally {
      await dropStackData(services, seededEnv).catch((err) =>
        log(`could not drop the seeded history: ${(err as Error).message}`),
      );
    }
  },
};
