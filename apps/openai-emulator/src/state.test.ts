import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chatLine, harness } from "./test-support.ts";

describe("persistent state", () => {
  it("keeps files and batches across a restart, and finishes a batch created before it", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "emulator-state-"));
    try {
      const first = await harness({ stateDir, batchDurationMs: 400 });
      const file = await first.upload([chatLine("a", "persist me")]);
      const batch = await first.client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
      await first.emu.close();

      const second = await harness({ stateDir, batchDurationMs: 400 });
      try {
        expect((await second.client.files.retrieve(file.id)).id).toBe(file.id);
        const done = await second.waitTerminal(batch.id);
        expect(done.status).toBe("completed");
        const [line] = await second.lines(done.output_file_id);
        expect(line?.response.body.choices[0].message.content).toBe("echo: persist me");
        const stats = (await (await second.control("/stats")).json()) as { batchesCreated: number };
        expect(stats.batchesCreated).toBe(1);
      } finally {
        await second.emu.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
