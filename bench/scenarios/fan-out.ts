/**
 * Target 6: fan-out. N sync callers wait on one gateway for one N-line batch (the collator flushes at
 * exactly N lines: COLLATE_MAX_LINES = N, and a long window); once the batch completes, how long until
 * the last of them is answered, counted from the moment the poller saw the completion.
 *
 * That moment is when the poller stored the terminal status in the batch record's history
 * (`BatchStore.recordStatus`, right after fetching it); the callers' answer times are epoch ms taken by
 * the load generator (bench/children/callers.ts) on the same machine. The poller's "batch announced" log
 * line (every line's outcome stored and its callers told) splits the interval into storing the results
 * and waking the callers; "batch settled" comes after the MongoDB cache entries that follow.
 *
 * Baseline, the store alone (bench/lib/store-floor.ts): just before and just after each run, with no
 * stack running, N outcomes and N cache entries written the way the poller writes them when a batch
 * succeeds, through the store's own code into a fresh database on the same server; the two timed apart,
 * so they hold whatever order the poller gives them. The faster of the two measurements counts. The
 * callers wait on the outcomes only (the poller writes the cache entries once they are all told), so
 * the outcomes alone are the headline's baseline.
 */
import { availableParallelism } from "node:os";
import { freshTag } from "../lib/bodies.ts";
import { CORES_NOTE, CpuSampler, coresRows, stackGroups } from "../lib/cpu.ts";
import { completionsSeen, dropStackData, logEvents, openStackStore } from "../lib/data.ts";
import { callers } from "../lib/load.ts";
import { BENCH_SETTINGS, startStack } from "../lib/stack.ts";
import { figure, medianOf } from "../lib/stats.ts";
import {
  DELIVERIES_IN_FLIGHT,
  DELIVERY_CHUNK,
  type SettlingFloor,
  settlingFloor,
} from "../lib/store-floor.ts";
import type { Scenario } from "./types.ts";

export const fanOut: Scenario = {
  name: "fan-out",
  title: "Fan-out: one batch's waiting callers answered",
  async run({ opts, services, scope, log }) {
    const n = opts.fanOut;
    // 4,000 callers a second (held-callers: faster overflows the listen backlog), then a margin: the
    // window only closes the batch should fewer than N callers get in.
    const step = { step: 100, stepMs: 25 };
    const windowMs = Math.ceil(n / 4000) * 1000 + (opts.quick ? 20_000 : 60_000);
    const deadlineMs = windowMs + (opts.quick ? 20_000 : 120_000);
    const fanOutS: number[] = [];
    const storeS: number[] = [];
    const settleS: number[] = [];
    const wakeS: number[] = [];
    const firstS: number[] = [];
    const noticedS: number[] = [];
    const lastFromStartS: number[] = [];
    const wrong: number[] = [];
    const batches: number[] = [];
    const floors: SettlingFloor[] = [];
    const cores: Record<string, number>[] = [];
    // CPU per line (the poller) and per caller (the gateway) over the same window, run by run.
    const perLine: { poller: number; gateway: number; machineS: number; shareNeeded: number }[] = [];
    const details: Record<string, unknown>[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      log(`run ${run}/${opts.runs}: ${n} sync callers on one ${n}-line batch`);
      // No stack yet: the server has only this to do.
      const before = await settlingFloor(services, n, freshTag("fanout-floor"));
      const stack = await startStack(scope, services, {
        env: { COLLATE_MAX_LINES: String(n), COLLATE_BATCHES_FOR_DURATION_IN_MS: String(windowMs) },
      });
      try {
        // Registered first: the poller logs it after waking the callers, so it may come after the last answer.
        const settledLine = stack.poller.waitForLine(/"msg":"batch settled"/, deadlineMs);
        settledLine.catch(() => {});
        const load = callers(scope, `callers-${run}`, {
          url: stack.gatewayUrl,
          n,
          tag: freshTag("fanout"),
          ...step,
          deadlineMs,
        });
        const sampler = new CpuSampler({ ...stackGroups(stack, services), load: [load.child.pid] });
        const result = await load.result.finally(() => sampler.stop());
        await settledLine.catch(() => null);
        const store = await openStackStore(services, stack.env);
        const seen = await completionsSeen(store).finally(() => store.close());
        await stack.stop();
        const settled = logEvents(stack.poller.logFile, "batch settled");
        const announced = logEvents(stack.poller.logFile, "batch announced");
        // The batch the callers waited on: the last one seen complete (there should be just one).
        const batch = seen
          .filter((s) => !Number.isNaN(s.seenAt))
          .sort((a, b) => a.seenAt - b.seenAt)
          .at(-1);
        const settledAt = settled.find((e) => e.recordId === batch?.recordId)?.time ?? Number.NaN;
        const announcedAt = announced.find((e) => e.recordId === batch?.recordId)?.time ?? Number.NaN;
        const seenAt = batch?.seenAt ?? Number.NaN;
        const complete = result.correct === n;
        const fanOut = complete ? (result.lastAnswerAt - seenAt) / 1000 : Number.POSITIVE_INFINITY;
        fanOutS.push(fanOut);
        storeS.push((announcedAt - seenAt) / 1000);
        settleS.push((settledAt - seenAt) / 1000);
        wakeS.push(complete ? (result.lastAnswerAt - announcedAt) / 1000 : Number.POSITIVE_INFINITY);
        firstS.push((result.firstAnswerAt - seenAt) / 1000);
        noticedS.push(((batch?.seenAt ?? Number.NaN) - (batch?.submittedAt ?? Number.NaN)) / 1000);
        lastFromStartS.push(
          complete ? (result.lastAnswerAt - result.startedAt) / 1000 : Number.POSITIVE_INFINITY,
        );
        wrong.push(n - result.correct);
        batches.push(seen.length);
        const used = sampler.coresBetween(seenAt, result.lastAnswerAt);
        cores.push(used);
        const windowS = (result.lastAnswerAt - seenAt) / 1000;
        const micros = (group: "poller" | "gateway") => (used[group] * windowS * 1e6) / n;
        // The share of their CPU the poller and the gateway could keep for all processes to fit 2 s.
        const ours = (used.poller + used.gateway) * windowS;
        const over = used.machine * windowS - 2 * availableParallelism();
        perLine.push({
          poller: micros("poller"),
          gateway: micros("gateway"),
          machineS: used.machine * windowS,
          shareNeeded: Math.max(0, 1 - over / ours),
        });
        log(
          `  ${result.correct}/${n} answered correctly; last answer ${fanOut.toFixed(2)} s after the poller saw the completion (results stored and told in ${((announcedAt - seenAt) / 1000).toFixed(2)} s); ${seen.length} batch(es)`,
        );
        details.push({ run, callers: result, batches: seen, settled });
      } finally {
        await stack.stop();
        await dropStackData(services, stack.env).catch(() => {});
      }
      // The stack is gone: the server has only this to do again.
      const after = await settlingFloor(services, n, freshTag("fanout-floor"));
      for (const [when, f] of [
        ["before", before],
        ["after", after],
      ] as const) {
        log(
          `  the store alone, ${when} the run: ${n} outcomes ${f.outcomesS.toFixed(2)} s, ${n} cache entries ${f.cacheS.toFixed(2)} s`,
        );
      }
      const total = (f: SettlingFloor) => f.outcomesS + f.cacheS;
      floors.push(total(before) <= total(after) ? before : after);
      details.at(-1)!.storeAlone = [before, after];
    }
    const fanOutFigure = figure("s", fanOutS);
    const lines = n.toLocaleString("en-US");
    // The callers wait on the outcomes only: the poller writes a batch's first 10,000 cache entries
    // once every caller is told (DEFERRED_LINES in apps/poller).
    const outcomesAlone = figure(
      "s",
      floors.map((f) => f.outcomesS),
    );
    const cacheAlone = figure(
      "s",
      floors.map((f) => f.cacheS),
    );
    const store = { label: "the store alone, the outcomes the callers wait on", value: outcomesAlone };
    // A target not met comes with what the store alone takes of it, in the summary too.
    const targetNote =
      n < 10_000
        ? { note: `${lines} lines here; the target is for 10,000` }
        : fanOutFigure.median > 2
          ? { note: `the store alone takes ${outcomesAlone.median.toFixed(2)} s of it` }
          : {};
    const coresOf = (group: string) => medianOf(cores, (c) => c[group] ?? Number.NaN, 2);
    return {
      params: {
        callers: n,
        collateMaxLines: n,
        windowMs,
        emulatorBatchMs: BENCH_SETTINGS.batchDurationMs,
        firstPollMs: BENCH_SETTINGS.firstPollMs,
        maxPollIntervalS: BENCH_SETTINGS.maxPollIntervalS,
      },
      rows: [
        {
          label: "poller saw the completion → last caller answered (s)",
          value: fanOutFigure,
          baseline: store,
          target: {
            text: "10,000-line batch: last caller within 2 s",
            met: n >= 10_000 ? fanOutFigure.median <= 2 : null,
            ...targetNote,
            why: `the callers waited on the store for the batch's ${lines} outcomes, ${outcomesAlone.median.toFixed(2)} s on this server alone (its ${lines} cache entries, ${cacheAlone.median.toFixed(2)} s alone, are written after every caller is told), and on CPU: ${coresOf("machine")} of ${availableParallelism()} cores used from the completion to the last answer (the poller ${coresOf("poller")}, ${medianOf(perLine, (r) => r.poller)} µs of CPU per line; the gateway ${coresOf("gateway")}, ${medianOf(perLine, (r) => r.gateway)} µs per caller answered; the MongoDB-compatible server ${coresOf("mongo")}; the load generator ${coresOf("load")}): ${medianOf(perLine, (r) => r.machineS, 1)} core-seconds in all, where 2 s on these cores hold ${2 * availableParallelism()}. Would meet it: the poller, the gateway and the store on cores of their own (the load generator too), or the poller and the gateway at ${medianOf(perLine, (r) => 100 * r.shareNeeded)}% of that CPU per line and per caller, all else equal.`,
          },
        },
        { label: "poller saw the completion → first caller answered (s)", value: figure("s", firstS) },
        {
          label: "… → results stored and callers told (poller's batch announced) (s)",
          value: figure("s", storeS),
          baseline: store,
        },
        { label: "batch announced → last caller answered (s)", value: figure("s", wakeS) },
        {
          label: "… → batch settled (the MongoDB cache entries written too) (s)",
          value: figure("s", settleS),
        },
        {
          label: "batch submitted → poller saw the completion (s)",
          value: figure("s", noticedS),
          baseline: {
            label: "emulator batch",
            value: figure("s", Array(opts.runs).fill(BENCH_SETTINGS.batchDurationMs / 1000)),
          },
        },
        { label: "first caller opened → last caller answered (s)", value: figure("s", lastFromStartS) },
        { label: "callers not answered correctly", value: figure("calls", wrong) },
        { label: "batches the callers' lines went into", value: figure("batches", batches) },
        {
          label: `the store alone: ${lines} outcomes, fresh database (s)`,
          value: outcomesAlone,
        },
        {
          label: `the store alone: ${lines} cache entries, fresh database (s)`,
          value: cacheAlone,
        },
        {
          label: "the store alone: outcomes and cache entries stored (documents/s)",
          value: figure(
            "documents/s",
            floors.map((f) => f.documents / (f.outcomesS + f.cacheS)),
          ),
        },
        // Who had the cores while the callers waited: the measured reason behind the figure.
        ...coresRows("poller saw the completion → last caller answered", cores),
      ],
      notes: [
        `${n} distinct sync calls on one gateway, opened at 4,000 a second (node:http, one connection each); the collator flushes at ${n} lines (COLLATE_MAX_LINES), the window (${windowMs / 1000} s) only if fewer get in.`,
        "The poller saw the completion when it stored the terminal status in the batch record's history (right after fetching it); answer times are taken by the load generator on the same machine; batch announced and batch settled are the poller's log lines.",
        "A run with a caller unanswered or answered wrongly counts as ∞.",
        `The store alone: just before and just after each run, with no stack running, ${lines} outcomes (RequestStore.finishMany) over seeded request records, then ${lines} cache entries pointing at them (CacheStore.putMany), shaped as the poller writes them when a batch succeeds (emulator-shaped answers; chunks of ${DELIVERY_CHUNK}, ${DELIVERIES_IN_FLIGHT} at once, as the poller delivers them), through the store's own code into a fresh database on the same server, with the indexes the apps create at start; the faster of the two measurements counts. Outcomes and cache entries are timed apart; their sum is what the store takes on this server whatever order the poller writes them in.`,
        CORES_NOTE,
      ],
      details,
    };
  },
};
