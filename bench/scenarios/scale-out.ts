/**
 * Target 9: scale-out. Async intake (unique bodies with `x-batch-mode: async`, as in async-intake) on
 * two gateway processes sharing one collator, poller and store, against one gateway, in the same run.
 * The load is the same both times: two autocannon processes of C/2 connections each, both aimed at the
 * one gateway, or one at each of the two. Each run gets fresh stacks.
 *
 * On a 2-core machine the two load generators, the gateways, the collator and poller, Redis and the
 * MongoDB-compatible server all compete for the same cores: a second gateway can only take CPU time from
 * the others, so the ratio says how much of it the machine had spare, not how the gateway scales on
 * more cores.
 */
import { availableParallelism } from "node:os";
import { CHAT_PATH, freshTag } from "../lib/bodies.ts";
import { cpuDuring } from "../lib/cpu.ts";
import { cannon } from "../lib/load.ts";
import type { Scope } from "../lib/procs.ts";
import { type Stack, startStack } from "../lib/stack.ts";
import { figure } from "../lib/stats.ts";
import type { Scenario } from "./types.ts";

/** Average cores used during `work` by the machine, the stack's gateways, its collator and poller, and the servers. */
async function coresDuring<T extends { cpuS?: number }>(
  stack: Stack,
  serverPids: number[],
  work: () => Promise<T>,
) {
  const groups = {
    gateways: stack.gateways.map((g) => g.pid),
    workers: [stack.collator.pid, stack.poller.pid],
    servers: serverPids,
  };
  const { result, seconds, cpu } = await cpuDuring(groups, work);
  const cores = Object.fromEntries(Object.entries<number>(cpu).map(([k, s]) => [k, s / seconds]));
  return { result, cpu: cores as typeof cpu };
}

/** Two load generators at once, one per URL (the same URL twice for one gateway); their 2xx/s summed. */
async function split(
  scope: Scope,
  name: string,
  urls: [string, string],
  connections: number,
  seconds: number,
) {
  const each = Math.max(1, Math.floor(connections / 2));
  const results = await Promise.all(
    urls.map((url, i) =>
      cannon(
        scope,
        `${name}-${i + 1}`,
        {
          url: `${url}${CHAT_PATH}`,
          connections: each,
          durationS: seconds,
          timeoutS: 30,
          headers: { "x-batch-mode": "async" },
          bodies: { kind: "unique", tag: freshTag(`scale-${i}`) },
        },
        seconds * 1000 + 60_000,
      ),
    ),
  );
  return {
    rate: results.reduce((sum, r) => sum + r.reqPerSec, 0),
    p99: Math.max(...results.map((r) => r.latencyMs.p99)),
    refused: results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
    cpuS: results.reduce((sum, r) => sum + r.cpuS, 0),
    results,
  };
}

export const scaleOut: Scenario = {
  name: "scale-out",
  title: "Scale-out: async intake on two gateways vs one",
  async run({ opts, services, scope, log }) {
    const one: number[] = [];
    const two: number[] = [];
    const ratio: number[] = [];
    const oneP99: number[] = [];
    const twoP99: number[] = [];
    const refused: number[] = [];
    type Cpu = Awaited<ReturnType<typeof coresDuring>>["cpu"];
    const cpuOne: Cpu[] = [];
    const cpuTwo: Cpu[] = [];
    const details: unknown[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      log(
        `run ${run}/${opts.runs}: one gateway, ${opts.asyncS} s at ${opts.connections} connections (2 load generators)`,
      );
      const single = await startStack(scope, services);
      const { result: a, cpu: cpuA } = await coresDuring(single, services.serverPids, () =>
        split(
          scope,
          `cannon-one-${run}`,
          [single.gatewayUrl, single.gatewayUrl],
          opts.connections,
          opts.asyncS,
        ),
      );
      await single.stop();
      log(`run ${run}/${opts.runs}: two gateways, the same load split over both`);
      const double = await startStack(scope, services, { gateways: 2 });
      const { result: b, cpu: cpuB } = await coresDuring(double, services.serverPids, () =>
        split(
          scope,
          `cannon-two-${run}`,
          [double.gatewayUrls[0]!, double.gatewayUrls[1]!],
          opts.connections,
          opts.asyncS,
        ),
      );
      await double.stop();
      log(
        `  one gateway ${a.rate.toFixed(0)} req/s, two ${b.rate.toFixed(0)} req/s (${(b.rate / a.rate).toFixed(2)} ×)`,
      );
      one.push(a.rate);
      two.push(b.rate);
      ratio.push(b.rate / a.rate);
      oneP99.push(a.p99);
      twoP99.push(b.p99);
      refused.push(a.refused + b.refused);
      cpuOne.push(cpuA);
      cpuTwo.push(cpuB);
      details.push({
        run,
        oneGateway: { cpu: cpuA, load: a.results },
        twoGateways: { cpu: cpuB, load: b.results },
      });
    }
    const cores = availableParallelism();
    return {
      params: { seconds: opts.asyncS, connections: opts.connections, loadGenerators: 2, cores },
      rows: [
        {
          label: "async calls queued on two gateways (202/s)",
          value: figure("req/s", two),
          baseline: { label: "one gateway", value: figure("req/s", one) },
        },
        {
          label: "ratio, two gateways to one (same run)",
          value: figure("×", ratio),
          target: {
            text: "two gateway processes vs one on async intake: ratio reported",
            met: null,
            reported: true,
            note: `${cores} cores shared with the load generators`,
          },
        },
        {
          label: "latency p99, the slower load generator (ms)",
          value: figure("ms", twoP99),
          baseline: { label: "one gateway", value: figure("ms", oneP99) },
        },
        { label: "calls not answered 202 (both setups)", value: figure("calls", refused) },
        ...(
          [
            ["the whole machine", "machine"],
            ["the gateways", "gateways"],
            ["the collator and poller", "workers"],
            ["Redis and the MongoDB-compatible server", "servers"],
            ["the load generators (as they report it)", "load"],
            ["the rest (the bench, the emulator, other processes)", "rest"],
          ] as const
        ).map(([who, key]) => ({
          label: `CPU during the load on two gateways (cores): ${who}`,
          value: figure(
            "cores",
            cpuTwo.map((c) => c[key]),
          ),
          baseline: {
            label: "one gateway",
            value: figure(
              "cores",
              cpuOne.map((c) => c[key]),
            ),
          },
        })),
      ],
      notes: [
        `Each run: two autocannon processes of ${Math.floor(opts.connections / 2)} connections each for ${opts.asyncS} s, unique bodies with x-batch-mode: async; both at one gateway, then one at each of two gateways sharing one collator, poller and store (fresh stacks).`,
        `On this ${cores}-core machine the load generators compete with the gateways, collator, poller, Redis and the MongoDB-compatible server for the same cores: the ratio is the CPU a second gateway could find, not how the gateway scales on a machine with cores to spare. The CPU rows (from /proc, averaged over the load) show who had the cores; the load generators report their own; "the rest" is the machine's busy time less all of these.`,
      ],
      details,
    };
  },
};
