/**
 * Target 4: async intake. Unique bodies with `x-batch-mode: async` (each one queued, answered 202) at a
 * fixed concurrency for a fixed time, against the bare Hono echo with the same load in the same run.
 * Each run gets a fresh stack: the backlog one run leaves to the collator must not slow the next.
 */
import { CHAT_PATH, freshTag } from "../lib/bodies.ts";
import { CPU_NOTE, type CpuUse, cpuPerRequestRows, perRequestMicros, stackGroups } from "../lib/cpu.ts";
import { echoCannon, measuredCannon } from "../lib/load.ts";
import { startEcho, startStack } from "../lib/stack.ts";
import { figure, medianOf } from "../lib/stats.ts";
import type { Scenario } from "./types.ts";

export const asyncIntake: Scenario = {
  name: "async-intake",
  title: "Async intake of unique bodies",
  async run({ opts, services, scope, log }) {
    const rate: number[] = [];
    const echoRate: number[] = [];
    const ratio: number[] = [];
    const p99: number[] = [];
    const echoP99: number[] = [];
    const refused: number[] = [];
    const cpu: Parameters<typeof cpuPerRequestRows>[0] = [];
    const echoCpu: CpuUse<"echo">[] = [];
    const details: unknown[] = [];
    const echo = await startEcho(scope);
    for (let run = 1; run <= opts.runs; run++) {
      log(`run ${run}/${opts.runs}: bare Hono echo, ${opts.asyncS} s at ${opts.connections} connections`);
      const { result: base, cpu: baseCpu } = await echoCannon(scope, echo, run, {
        connections: opts.connections,
        durationS: opts.asyncS,
        bodies: { kind: "unique", tag: freshTag("echo") },
      });
      log(
        `run ${run}/${opts.runs}: gateway (fresh store), ${opts.asyncS} s at ${opts.connections} connections`,
      );
      const stack = await startStack(scope, services);
      const { result, cpu: stackCpu } = await measuredCannon(
        stackGroups(stack, services),
        scope,
        `cannon-${run}`,
        {
          url: `${stack.gatewayUrl}${CHAT_PATH}`,
          connections: opts.connections,
          durationS: opts.asyncS,
          timeoutS: 30,
          headers: { "x-batch-mode": "async" },
          bodies: { kind: "unique", tag: freshTag("async") },
        },
        opts.asyncS * 1000 + 60_000,
      );
      await stack.stop();
      log(`  ${result.reqPerSec.toFixed(0)} req/s (echo ${base.reqPerSec.toFixed(0)})`);
      rate.push(result.reqPerSec);
      echoRate.push(base.reqPerSec);
      ratio.push(result.reqPerSec / base.reqPerSec);
      p99.push(result.latencyMs.p99);
      echoP99.push(base.latencyMs.p99);
      refused.push(result.non2xx + result.errors + result.timeouts);
      cpu.push(perRequestMicros(stackCpu, result.ok));
      echoCpu.push(perRequestMicros(baseCpu, base.ok));
      details.push({ run, gateway: result, echo: base, cpuSeconds: { gateway: stackCpu, echo: baseCpu } });
    }
    await echo.server.stop();
    const ratioFigure = figure("×", ratio);
    return {
      params: { seconds: opts.asyncS, connections: opts.connections },
      rows: [
        {
          label: "async calls queued (202/s)",
          value: figure("req/s", rate),
          baseline: { label: "Hono echo", value: figure("req/s", echoRate) },
        },
        {
          label: "ratio to the Hono echo (same run)",
          value: ratioFigure,
          target: {
            text: "≥ 0.5 × the Hono echo",
            met: ratioFigure.median >= 0.5,
            why: `all processes spent ${medianOf(cpu, (c) => c.machine)} µs of CPU per queued call where 0.5 × the echo allows ${medianOf(echoCpu, (c) => c.machine / 0.5)}: the gateway ${medianOf(cpu, (c) => c.gateway)}, Redis ${medianOf(cpu, (c) => c.redis)}, and the work the calls set off meanwhile on the same cores, the MongoDB-compatible server ${medianOf(cpu, (c) => c.mongo)}, the collator ${medianOf(cpu, (c) => c.collator)}, the poller ${medianOf(cpu, (c) => c.poller)} and the emulator ${medianOf(cpu, (c) => c.emulator)}. Would meet it: the workers, the store and the provider off the gateway's machine, as a deployment runs them, and then the gateway, Redis and the load generator within those ${medianOf(echoCpu, (c) => c.machine / 0.5)} µs per call, where they take ${medianOf(cpu, (c) => c.gateway + c.redis + c.load)} now (an async call is five Redis commands: the quota, the tier, the claim, the queue's add, the call).`,
          },
        },
        {
          label: "latency p99 (ms)",
          value: figure("ms", p99),
          baseline: { label: "Hono echo", value: figure("ms", echoP99) },
        },
        {
          label: "calls not answered 202 (errors, timeouts, other statuses)",
          value: figure("calls", refused),
        },
        ...cpuPerRequestRows(cpu, echoCpu, 0.5),
      ],
      notes: [
        `Each run: ${opts.asyncS} s of unique bodies at ${opts.connections} connections (autocannon), first on the echo, then on a fresh stack whose collator and poller work as usual meanwhile.`,
        CPU_NOTE,
      ],
      details,
    };
  },
};
