/**
 * All the emulator's state: file records, batch records and counters, with the bytes of files on disk
 * under `dataDir`. With a `stateDir` the records persist to `state.json` there (atomic rename) so a
 * restarted emulator keeps its files and batches; without one, `dataDir` is a temp dir removed on close.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BatchRecord, FileRecord } from "./types.ts";

export interface Counters {
  filesUploaded: number;
  batchesCreated: number;
  linesSubmitted: number;
  realtimeRequests: number;
}

interface Snapshot {
  version: 1;
  files: FileRecord[];
  batches: BatchRecord[];
  counters: Counters;
}

export class EmulatorState {
  readonly dataDir: string;
  readonly persistent: boolean;
  readonly files = new Map<string, FileRecord>();
  readonly batches = new Map<string, BatchRecord>();
  counters: Counters = { filesUploaded: 0, batchesCreated: 0, linesSubmitted: 0, realtimeRequests: 0 };
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(stateDir?: string) {
    this.persistent = stateDir !== undefined;
    this.dataDir = stateDir ?? mkdtempSync(join(tmpdir(), "openai-emulator-"));
    for (const sub of ["files", "batches", "tmp"]) mkdirSync(join(this.dataDir, sub), { recursive: true });
    if (this.persistent) this.load();
  }

  filePath(fileId: string): string {
    return join(this.dataDir, "files", fileId);
  }

  batchInputPath(batchId: string): string {
    return join(this.dataDir, "batches", `${batchId}.input.jsonl`);
  }

  tmpPath(name: string): string {
    return join(this.dataDir, "tmp", name);
  }

  private statePath(): string {
    return join(this.dataDir, "state.json");
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.statePath(), "utf8");
    } catch {
      return;
    }
    const snap = JSON.parse(text) as Snapshot;
    for (const f of snap.files) this.files.set(f.id, f);
    for (const b of snap.batches) this.batches.set(b.batch.id, b);
    this.counters = snap.counters;
  }

  /** Persist (when a stateDir is set). Calls coalesce; the returned promise settles after the write. */
  save(): Promise<void> {
    if (!this.persistent) return Promise.resolve();
    this.dirty = true;
    this.saving = this.saving.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const snap: Snapshot = {
        version: 1,
        files: [...this.files.values()],
        batches: [...this.batches.values()],
        counters: this.counters,
      };
      const tmp = `${this.statePath()}.tmp`;
      await writeFile(tmp, JSON.stringify(snap));
      await rename(tmp, this.statePath());
    });
    return this.saving;
  }

  async close(): Promise<void> {
    await this.saving.catch(() => undefined);
    if (!this.persistent) await rm(this.dataDir, { recursive: true, force: true });
    else rmSync(join(this.dataDir, "tmp"), { recursive: true, force: true });
  }
}
