import { collateQueue } from "@batch-gpt/contracts";
import { eventually, type Stack, scrapeMetrics, startStack } from "@batch-gpt/testing";
import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Prometheus metrics, scraped from the gateway, the collator and the poller while requests go through
// the whole stack: the counts must move as the requests do.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const CHAT = "/v1/chat/completions";
const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content }] });
const gatewayMetrics = () => scrapeMetrics(`${stack.gateways[0]!.url}/metrics`);
const collatorMetrics = () => scrapeMetrics(`${stack.collators[0]!.probes.url}/metrics`);
const pollerMetrics = () => scrapeMetrics(`${stack.pollers[0]!.probes.url}/metrics`);
const ask = async (content: string, client: OpenAI = stack.client) =>
  (await client.chat.completions.create(chat(content))).choices[0]?.message.content;

describe("metrics during an end-to-end run", () => {
  it("count requests, cache lookups, dedup, held callers, lines, resubmissions, batches and provider errors", async () => {
    const before = await gatewayMetrics();
    expect(
      before.sample("batchgpt_requests_total", { endpoint: CHAT, mode: "sync", outcome: "succeeded" }),
    ).toBe(0);
    expect(before.sample("batchgpt_held_callers")).toBe(0);

    // A sync call, then the same again from the cache.
    expect(await ask("alpha")).toBe("echo: alpha");
    expect(await ask("alpha")).toBe("echo: alpha");

    // An async call, fetched later.
    const accepted = await fetch(`${stack.gateways[0]!.url}${CHAT}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify(chat("beta")),
    });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    await eventually(async () => (await fetch(`${stack.gateways[0]!.url}/v1/requests/${id}`)).status === 200);

    // Cache only, nothing cached: 404.
    const miss = await fetch(`${stack.gateways[0]!.url}${CHAT}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "cache" },
      body: JSON.stringify(chat("gamma")),
    });
    expect(miss.status).toBe(404);

    // Two identical calls at once share one line; creating their batch is slowed, so both are held.
    await stack.control("faults", { target: "batches.create", delayMs: 1500 });
    const twins = Promise.all([ask("delta"), ask("delta")]);
    await eventually(async () => (await gatewayMetrics()).sample("batchgpt_held_callers") === 2);
    expect(await twins).toEqual(["echo: delta", "echo: delta"]);

    // A batch that expires before any line ran: its line is sent again, then answered.
    await stack.control("next-batch", { outcome: "expire", completeLines: 0 });
    expect(await ask("epsilon")).toBe("echo: epsilon");

    // A status check that fails through the SDK's retries: counted, then the next check succeeds.
    await stack.control("faults", { target: "batches.retrieve", status: 500, times: 3 });
    expect(await ask("zeta")).toBe("echo: zeta");

    const gateway = await gatewayMetrics();
    const requests = (mode: string, outcome: string) =>
      gateway.sample("batchgpt_requests_total", { endpoint: CHAT, mode, outcome });
    // alpha, delta twice, epsilon, zeta
    expect(requests("sync", "succeeded")).toBe(5);
    expect(requests("sync", "cache_hit")).toBe(1);
    expect(requests("async", "accepted")).toBe(1);
    expect(requests("cache", "cache_miss")).toBe(1);
    expect(
      gateway.sample("batchgpt_request_duration_seconds_count", { endpoint: CHAT, outcome: "succeeded" }),
    ).toBe(5);
    expect(
      gateway.sample("batchgpt_request_duration_seconds_bucket", {
        endpoint: CHAT,
        outcome: "succeeded",
        le: "+Inf",
      }),
    ).toBe(5);
    expect(gateway.sample("batchgpt_cache_lookups_total", { result: "hit" })).toBe(1);
    // alpha, beta, gamma, delta twice, epsilon, zeta
    expect(gateway.sample("batchgpt_cache_lookups_total", { result: "miss" })).toBe(7);
    expect(gateway.sample("batchgpt_dedup_attaches_total", { endpoint: CHAT })).toBe(1);
    expect(gateway.sample("batchgpt_held_callers")).toBe(0);
    // The process's own figures come along.
    expect(gateway.sample("nodejs_heap_size_total_bytes")).toBeGreaterThan(0);

    // alpha, beta, delta, epsilon (twice: expired, then answered) and zeta: six lines, six batches.
    const poller = await pollerMetrics();
    expect(poller.sample("batchgpt_lines_total", { outcome: "succeeded" })).toBe(5);
    expect(poller.sample("batchgpt_lines_total", { outcome: "resubmitted" })).toBe(1);
    expect(poller.sample("batchgpt_resubmissions_total", { reason: "batch_expired" })).toBe(1);
    expect(
      poller.sample("batchgpt_provider_errors_total", { call: "retrieve", status: "500" }),
    ).toBeGreaterThanOrEqual(1);
    // No batch was refused: the collator settled no line itself.
    expect((await collatorMetrics()).sample("batchgpt_lines_total", { outcome: "succeeded" })).toBe(0);

    // The deployment's figures: batch records (counted a few seconds at a time) and BullMQ's queues.
    // A poll job completes just after its batch is marked done: wait for both (the figures are read
    // a few seconds at a time).
    const after = await eventually(async () => {
      const now = await gatewayMetrics();
      const settled =
        now.sample("batchgpt_batches", { state: "done", status: "completed" }) === 5 &&
        now.sample("batchgpt_queue_finished_jobs", { queue: "poll", result: "completed" }) === 6;
      return settled ? now : false;
    });
    expect(after.sample("batchgpt_batches", { state: "done", status: "expired" })).toBe(1);
    expect(after.sample("batchgpt_queue_jobs", { queue: "collate", state: "waiting" })).toBe(0);
    expect(after.sample("batchgpt_queue_oldest_waiting_seconds", { queue: "collate" })).toBe(0);
    expect(after.sample("batchgpt_queue_finished_jobs", { queue: "collate", result: "completed" })).toBe(6);
    expect(after.sample("batchgpt_queue_finished_jobs", { queue: "poll", result: "completed" })).toBe(6);
  });

  it("reports the age of the oldest job waiting to be collated", async () => {
    // No collator takes it: a job added straight to the queue waits.
    const queue = stack.gateways[0]!.deps.queues.bullQueue(collateQueue);
    await stack.collators[0]!.close();
    stack.collators.length = 0;
    await queue.add("collate", { requestId: "req_waiting" }, { jobId: "req_waiting" });
    const figures = await eventually(async () => {
      const now = await gatewayMetrics();
      return now.sample("batchgpt_queue_oldest_waiting_seconds", { queue: "collate" }) > 0 ? now : false;
    });
    expect(figures.sample("batchgpt_queue_jobs", { queue: "collate", state: "waiting" })).toBe(1);
    await queue.remove("req_waiting");
  });
});

describe("the workers' probes", () => {
  it("answer /healthz and /readyz on the poller's metrics port", async () => {
    const url = stack.pollers[0]!.probes.url;
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: "ok", redis: "ok", mongo: "ok" }]);
  });
});

describe("bull-board at /admin/queues", () => {
  it("serves its page and its assets", async () => {
    const base = stack.gateways[0]!.url;
    const page = await fetch(`${base}/admin/queues`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    const asset = /src="((?:[^"]*\/)?static\/js\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    // Relative to the page's <base href>, which is where the board is mounted.
    const baseHref = /<base href="([^"]+)"/.exec(html)?.[1];
    expect(baseHref).toMatch(/^\/admin\/queues\/?$/);
    const script = await fetch(new URL(asset!, new URL(baseHref!.replace(/\/?$/, "/"), base)));
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
  });

  it("lists every queue of the catalog through its API", async () => {
    const res = await fetch(`${stack.gateways[0]!.url}/admin/queues/api/queues`);
    expect(res.status).toBe(200);
    const { queues } = (await res.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(queues.map((q) => q.name).sort()).toEqual(["collate", "poll"]);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
  });
});
