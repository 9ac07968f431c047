import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiError, eventually, type Stack, spawnApp, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

// The provider stutters: replies lost after the work was done, calls that never end, answers that
// will never change. Each batch record must still reach the provider exactly once, and every caller
// gets one answer.

let stack: Stack;
/** This file's batch files, apart from every other test's. */
const fileDir = mkdtempSync(join(tmpdir(), "stutter-files-"));
beforeAll(async () => {
  stack = await startStack({ env: { PROVIDER_TIMEOUT_MS: "1500", BATCH_FILE_DIR: fileDir } });
});
afterAll(async () => {
  await stack?.close();
  rmSync(fileDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await stack.control("faults", undefined, "DELETE");
});

const ask = (content: string, model: string) =>
  stack.client.chat.completions.create({ model, messages: [{ role: "user", content }] });

/** The emulator's batches of one model, and how many carry each of our record ids. */
async function batchesOf(model: string) {
  const batches = (await stack.emulatorStats()).batches.filter((b) => b.model === model);
  const perRecord = new Map<string, number>();
  for (const b of batches) {
    const record = b.metadata?.batch_gpt_record ?? "(none)";
    perRecord.set(record, (perRecord.get(record) ?? 0) + 1);
  }
  return { batches, perRecord: [...perRecord.values()] };
}

describe("batches.create is sent once per record", () => {
  it("a create whose reply was lost (a 5xx after the batch was made) is found, not sent again", async () => {
    await stack.control("faults", { target: "batches.create", status: 500, after: true });
    const answer = await ask("lost create reply", "gpt-lost-reply");
    expect(answer.choices[0]?.message.content).toBe("echo: lost create reply");
    const { batches, perRecord } = await batchesOf("gpt-lost-reply");
    expect(batches).toHaveLength(1);
    expect(perRecord).toEqual([1]);
  });

  it("a create whose reply never came (a timeout after the batch was made) is found, not sent again", async () => {
    await stack.control("faults", { target: "batches.create", delayMs: 600_000, after: true });
    const answer = await ask("slow create reply", "gpt-slow-reply");
    expect(answer.choices[0]?.message.content).toBe("echo: slow create reply");
    const { batches, perRecord } = await batchesOf("gpt-slow-reply");
    expect(batches).toHaveLength(1);
    expect(perRecord).toEqual([1]);
  });
});

describe("a collator paused (not dead) past the stale time", () => {
  let paused: Stack;
  beforeAll(async () => {
    // No collator in this process: the paused one is a process of its own, the survivor starts later.
    paused = await startStack({ collators: 0, env: { PROVIDER_TIMEOUT_MS: "30000" } });
  });
  afterAll(() => paused?.close());

  it("two provider batches for one record: one is adopted, the other cancelled, the caller answered once", async () => {
    const model = "gpt-paused-collator";
    // The first create is held at the provider before it makes the batch: long enough for the paused
    // collator's record to go stale, be taken over, looked up (nothing yet) and created again.
    await paused.control("faults", { target: "batches.create", delayMs: 8000 });
    const doomed = spawnApp("collator", paused.env);
    try {
      const answer = paused.client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "paused collator" }],
      });
      // Its create reached the provider (the fault was taken): now it pauses, heartbeats and all.
      await eventually(
        async () =>
          ((await (await paused.control("faults", undefined, "GET")).json()) as { pending: unknown[] })
            .pending.length === 0,
        30_000,
        "the paused collator's create",
      );
      process.kill(doomed.child.pid!, "SIGSTOP");
      await paused.startCollator();
      const result = await answer;
      expect(result.choices[0]?.message.content).toBe("echo: paused collator");
      // The held create goes through at the provider: a second batch carries the same record.
      const twice = await eventually(async () => {
        const batches = (await paused.emulatorStats()).batches.filter((b) => b.model === model);
        return batches.length === 2 && batches;
      }, 30_000);
      const recordIds = new Set(twice.map((b) => b.metadata.batch_gpt_record));
      expect(recordIds.size).toBe(1);
      process.kill(doomed.child.pid!, "SIGCONT");
      const record = await paused.store.batches.get([...recordIds][0]!);
      const settled = await eventually(async () => {
        const batches = (await paused.emulatorStats()).batches.filter((b) => b.model === model);
        const statuses = batches.map((b) => b.status).sort();
        return statuses.join() === "cancelled,completed" && batches;
      }, 30_000);
      // The one followed is the record's; the other was cancelled before it could run.
      expect(settled.find((b) => b.status === "completed")?.id).toBe(record?.providerBatchId);
      const outcome = await paused.store.mongo.collections.answers.countDocuments({});
      expect(outcome).toBe(1);
    } finally {
      process.kill(doomed.child.pid!, "SIGCONT");
      await doomed.stop();
    }
  });
});

describe("every provider call has a bounded time", () => {
  it("an upload the provider takes and never answers is cut and sent again; its file is removed", async () => {
    await stack.control("faults", { target: "files.create", delayMs: 600_000 });
    const answer = await ask("upload never answered", "gpt-silent-upload");
    expect(answer.choices[0]?.message.content).toBe("echo: upload never answered");
    expect(readdirSync(fileDir)).toEqual([]);
  });

  it("a result download that stalls mid-body is cut and read again", async () => {
    await stack.control("faults", { target: "files.content", stallAfterBytes: 10 });
    const answer = await ask("stalled download", "gpt-stalled-download");
    expect(answer.choices[0]?.message.content).toBe("echo: stalled download");
  });
});

describe("a provider answer that will never change", () => {
  it("a batch the provider no longer knows (404) fails its callers at once and is counted", async () => {
    await stack.control("faults", { target: "batches.retrieve", status: 404, times: 1000 });
    const error = await apiError(ask("forgotten batch", "gpt-forgotten"));
    expect(error.status).toBe(502);
    expect(error.error).toMatchObject({ code: "batch_untracked" });
    const metrics = await (await fetch(`${stack.pollers[0]!.probes.url}/metrics`)).text();
    expect(metrics).toMatch(/batchgpt_provider_errors_total\{call="retrieve",status="404"\} [1-9]/);
  });

  it("a key the provider refuses (401) fails the callers with the operator's error, naming no key", async () => {
    await stack.control("faults", { target: "batches.retrieve", status: 401, times: 1000 });
    const error = await apiError(ask("refused key", "gpt-refused-key"));
    expect(error.status).toBe(502);
    expect(error.message).toMatch(/refused the gateway's credentials/);
  });
});

describe("batch files are removed on every path", () => {
  let files: Stack;
  const dir = mkdtempSync(join(tmpdir(), "stutter-orphans-"));
  beforeAll(async () => {
    files = await startStack({ collators: 0, env: { BATCH_FILE_DIR: dir, PROVIDER_TIMEOUT_MS: "60000" } });
  });
  afterAll(async () => {
    await files?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const askAsync = async (content: string) => {
    const response = await fetch(`${files.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify({ model: "gpt-orphan-files", messages: [{ role: "user", content }] }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  };
  const answered = (id: string) =>
    eventually(
      async () => (await fetch(`${files.gateways[0]!.url}/v1/requests/${id}`)).status === 200,
      60_000,
      `the answer of ${id}`,
    );

  /** Whether the queued fault has struck (the upload it holds reached the provider). */
  const faultTaken = async () =>
    ((await (await files.control("faults", undefined, "GET")).json()) as { pending: unknown[] }).pending
      .length === 0;

  it("a killed collator's file is removed by the next collator; a stopping one removes its own", async () => {
    // Killed mid-upload: no cleanup runs; the next collator to start removes what it left.
    await files.control("faults", { target: "files.create", delayMs: 600_000 });
    const doomed = spawnApp("collator", files.env);
    const first = await askAsync("killed mid-upload");
    await eventually(() => readdirSync(dir).length > 0, 30_000, "the batch file");
    // The file is written while the batch is recorded, before its upload starts: kill once the upload
    // is held at the provider (else the held upload would be the next collator's).
    await eventually(faultTaken, 30_000, "the upload held at the provider");
    doomed.child.kill("SIGKILL");
    await doomed.exited;
    expect(readdirSync(dir)).toHaveLength(1);
    const survivor = await files.startCollator();
    expect(readdirSync(dir)).toEqual([]);
    await answered(first);

    // Stopped mid-upload: the upload is abandoned, its file removed, the record left for recovery.
    await files.control("faults", { target: "files.create", delayMs: 600_000 });
    const second = await askAsync("stopped mid-upload");
    await eventually(() => readdirSync(dir).length > 0, 30_000, "the batch file");
    await eventually(faultTaken, 30_000, "the upload held at the provider");
    await survivor.close();
    files.collators.splice(files.collators.indexOf(survivor), 1);
    expect(readdirSync(dir)).toEqual([]);
    await files.control("faults", undefined, "DELETE");
    await files.startCollator();
    await answered(second);
  });
});
