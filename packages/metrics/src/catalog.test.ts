import { describe, expect, it } from "vitest";
import { deploymentMetrics } from "./catalog.ts";
import { AppMetrics } from "./exposition.ts";

describe("deploymentMetrics", () => {
  it("shows the figures its source reads at scrape time", async () => {
    const metrics = new AppMetrics();
    deploymentMetrics(metrics.registry, {
      batches: async () => [{ state: "done", status: "expired", count: 2 }],
      queues: async () => [
        { queue: "collate", counts: { waiting: 3 }, oldestWaitingMs: 1500, completed: 7, failed: 1 },
      ],
    });
    const text = await metrics.scrape();
    expect(text).toContain('batchgpt_batches{state="done",status="expired"} 2');
    expect(text).toContain('batchgpt_queue_jobs{queue="collate",state="waiting"} 3');
    expect(text).toContain('batchgpt_queue_oldest_waiting_seconds{queue="collate"} 1.5');
    expect(text).toContain('batchgpt_queue_finished_jobs{queue="collate",result="completed"} 7');
  });

  it("still answers a scrape while Redis or MongoDB is down, without those series", async () => {
    const metrics = new AppMetrics();
    const down = () => Promise.reject(new Error("connection refused"));
    deploymentMetrics(metrics.registry, { batches: down, queues: down });
    const text = await metrics.scrape();
    expect(text).not.toMatch(/^batchgpt_batches\{/m);
    expect(text).not.toMatch(/^batchgpt_queue_jobs\{/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });
});
