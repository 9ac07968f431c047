/**
 * Target 3: cached answers served at a fixed concurrency. M earlier requests, answered and cached, are
 * seeded into the store (bench/lib/seed.ts, as `history` seeds them), the answers of H of them also in
 * Redis's cache tier, as reading them from MongoDB leaves hot answers; the gateway is checked to answer
 * a hot body and a cold one (from MongoDB) with the seeded answers. Then each run sends K requests, each
 * body one of the H hot ones picked uniformly at random, and the bare Hono echo gets the same kind of
 * load in the same run.
 *
 * The measured requests carry `x-batch-mode: cache`: a hit takes the same path as in sync mode (the
 * cache is looked up before the mode matters), and a miss gets 404 at once instead of holding a
 * connection, so a miss shows up in the hit rate rather than as a stalled run.
 */
import { CHAT_PATH, freshTag } from "../lib/bodies.ts";
import { CPU_NOTE, type CpuUse, cpuPerRequestRows, perRequestMicros, stackGroups } from "../lib/cpu.ts";
import { dropStackData } from "../lib/data.ts";
import { echoCannon, measuredCannon } from "../lib/load.ts";
import { expectCachedAnswer, seedHistory } from "../lib/seed.ts";
import { startEcho, startStack } from "../lib/stack.ts";
import { figure, medianOf } from "../lib/stats.ts";
import type { Scenario } from "./types.ts";

export const cacheHits: Scenario = {
  name: "cache-hits",
  title: "Cache hits at a fixed concurrency",
  async run({ opts, services, scope, log }) {
    const stored = opts.cacheStored;
    const hot = Math.min(opts.cacheHot, stored);
    const requests = Math.max(opts.cacheRequests, opts.connections);
    const tag = freshTag("cache");
    const id = `${process.pid}_cache_${Date.now().toString(36)}`;
    const seededEnv = { MONGO_DATABASE: `bench_${id}`, BULL_PREFIX: `bench-${id}` };
    log(
      `seeding ${stored.toLocaleString("en-US")} answered requests, ${hot.toLocaleString("en-US")} of them hot`,
    );
    const seed = await seedHistory(services, seededEnv, stored, tag, () => {}, { tierFirst: hot });
    log(`  ${seed.documents.toLocaleString("en-US")} documents in ${seed.seconds.toFixed(1)} s`);
    const stack = await startStack(scope, services, { env: seededEnv });
    await expectCachedAnswer(stack.gatewayUrl, tag, 0, "a hot body");
    if (hot < stored) await expectCachedAnswer(stack.gatewayUrl, tag, stored - 1, "a cold body");
    const echo = await startEcho(scope);

    const rate: number[] = [];
    const echoRate: number[] = [];
    const ratio: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    const echoP50: number[] = [];
    const echoP99: number[] = [];
    const hitRate: number[] = [];
    const cpu: Parameters<typeof cpuPerRequestRows>[0] = [];
    const echoCpu: CpuUse<"echo">[] = [];
    const details: unknown[] = [];
    const bodies = { kind: "pick", tag, count: hot } as const;
    for (let run = 1; run <= opts.runs; run++) {
      log(`run ${run}/${opts.runs}: bare Hono echo, ${opts.baselineS} s at ${opts.connections} connections`);
      const { result: base, cpu: baseCpu } = await echoCannon(scope, echo, run, {
        connections: opts.connections,
        durationS: opts.baselineS,
        bodies,
      });
      log(`run ${run}/${opts.runs}: gateway, ${requests} cached bodies at ${opts.connections} connections`);
      const { result, cpu: stackCpu } = await measuredCannon(
        stackGroups(stack, services),
        scope,
        `cannon-${run}`,
        {
          url: `${stack.gatewayUrl}${CHAT_PATH}`,
          connections: opts.connections,
          amount: requests,
          timeoutS: 30,
          headers: { "x-batch-mode": "cache" },
          bodies,
        },
        opts.timeoutS * 1000,
      );
      log(
        `  ${result.reqPerSec.toFixed(0)} req/s (echo ${base.reqPerSec.toFixed(0)}), p99 ${result.latencyMs.p99} ms`,
      );
      rate.push(result.reqPerSec);
      echoRate.push(base.reqPerSec);
      ratio.push(result.reqPerSec / base.reqPerSec);
      p50.push(result.latencyMs.p50);
      p99.push(result.latencyMs.p99);
      echoP50.push(base.latencyMs.p50);
      echoP99.push(base.latencyMs.p99);
      hitRate.push(result.requests ? (100 * result.cacheHits) / result.requests : 0);
      cpu.push(perRequestMicros(stackCpu, result.ok));
      echoCpu.push(perRequestMicros(baseCpu, base.ok));
      details.push({ run, gateway: result, echo: base, cpuSeconds: { gateway: stackCpu, echo: baseCpu } });
    }
    await echo.server.stop();
    await stack.stop();
    await dropStackData(services, seededEnv).catch((err) =>
      log(`could not drop the seeded answers: ${(err as Error).message}`),
    );
    const ratioFigure = figure("×", ratio);
    return {
      params: { stored, hot, requests, connections: opts.connections, echoSeconds: opts.baselineS },
      rows: [
        {
          label: "cache hits served (req/s)",
          value: figure("req/s", rate),
          baseline: { label: "Hono echo", value: figure("req/s", echoRate) },
        },
        {
          label: "ratio to the Hono echo (same run)",
          value: ratioFigure,
          target: {
            text: "≥ 0.5 × the Hono echo (10,000 hot bodies among 100,000 stored)",
            met: ratioFigure.median >= 0.5,
            ...(hot === 10_000 && stored === 100_000
              ? {}
              : { note: `${hot} hot among ${stored} stored here` }),
            why: `all processes spent ${medianOf(cpu, (c) => c.machine)} µs of CPU per hit (the gateway ${medianOf(cpu, (c) => c.gateway)}, Redis ${medianOf(cpu, (c) => c.redis)}, the load generator ${medianOf(cpu, (c) => c.load)}) where 0.5 × the echo allows ${medianOf(echoCpu, (c) => c.machine / 0.5)} for all of them on these shared cores, ${medianOf(
              cpu.map((c, i) => ({ c, e: echoCpu[i]! })),
              ({ c, e }) => (100 * c.gateway) / (e.machine / 0.5),
            )}% of which the gateway alone spends (the echo server ${medianOf(echoCpu, (c) => c.echo)} µs per request). Would meet it: the gateway at about ${medianOf(
              cpu.map((c, i) => ({ c, e: echoCpu[i]! })),
              ({ c, e }) => e.machine / 0.5 - c.redis - c.load,
            )} µs per hit (a hit is two Redis commands, the tier's read and the quota's script, which a Redis Cluster cannot put in one script: different slots), or the gateway on cores the load generator does not use.`,
          },
        },
        {
          label: "latency p50 (ms)",
          value: figure("ms", p50),
          baseline: { label: "Hono echo", value: figure("ms", echoP50) },
        },
        {
          label: "latency p99 (ms)",
          value: figure("ms", p99),
          baseline: { label: "Hono echo", value: figure("ms", echoP99) },
          target: { text: "p99 reported", met: null, reported: true },
        },
        { label: "answered from the cache (%)", value: figure("%", hitRate) },
        { label: `time to seed the ${stored} answered requests (s)`, value: figure("s", [seed.seconds]) },
        ...cpuPerRequestRows(cpu, echoCpu, 0.5),
      ],
      notes: [
        `${stored} earlier requests, answered and cached, seeded into MongoDB and Redis as the apps leave them (bench/lib/seed.ts), the answers of ${hot} of them in Redis's cache tier too (as reading them from MongoDB leaves hot answers); the gateway answered a hot one and a cold one (from MongoDB) with the seeded answers before the runs. Each run sends ${requests} requests, each body one of the ${hot} hot ones uniformly at random, header x-batch-mode: cache.`,
        `The echo baseline runs ${opts.baselineS} s with the same bodies and the same ${opts.connections} connections (autocannon).`,
        CPU_NOTE,
      ],
      details: [{ seed }, ...details],
    };
  },
};
