/**
 * What goes wrong during the soak: collators and pollers SIGKILLed at random and replaced a moment later,
 * Redis restarted once, and the emulator answering 429, 500 or slowly (and now and then expiring or
 * cancelling a batch, or losing the reply of a call that took effect) at random. Every event is counted for the summary.
 */
import type { Cluster, Worker } from "./cluster.ts";

export interface ChaosCounts {
  kills: Record<Worker, number>;
  restarts: Record<Worker, number>;
  redisRestarts: number;
  faults: Record<string, number>;
}

const FAULT_TARGETS = ["files.create", "batches.create", "batches.retrieve", "files.content"] as const;

export class Chaos {
  readonly counts: ChaosCounts = {
    kills: { collator: 0, poller: 0 },
    restarts: { collator: 0, poller: 0 },
    redisRestarts: 0,
    faults: {},
  };
  readonly #cluster: Cluster;
  readonly #random: () => number;
  readonly #say: (text: string) => void;
  readonly #stopped = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #lostReplies: boolean;

  constructor(cluster: Cluster, random: () => number, say: (text: string) => void, lostReplies: boolean) {
    this.#cluster = cluster;
    this.#lostReplies = lostReplies;
    this.#random = random;
    this.#say = say;
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)] as T;
  }

  /** Waits about `meanS` (between a third and twice of it); false once chaos was stopped. */
  async #pause(meanS: number): Promise<boolean> {
    const ms = meanS * 1000 * (0.3 + this.#random() * 1.7);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#stopped.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return !this.#stopped.signal.aborted;
  }

  #track(work: Promise<unknown>): void {
    const p = work
      .catch((err: Error) => this.#say(`chaos: ${err.message}`))
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Kills a random collator or poller now and then; each is replaced 0.5-3 s later. */
  async kills(everyS: number): Promise<void> {
    while (await this.#pause(everyS)) {
      const kind: Worker = this.#random() < 0.5 ? "collator" : "poller";
      const running = this.#cluster.workers(kind);
      if (running.length === 0) continue;
      const victim = this.#pick(running);
      this.#cluster.kill(victim);
      this.counts.kills[kind] += 1;
      const after = 500 + this.#random() * 2500;
      this.#track(
        (async () => {
          await victim.exited;
          await new Promise((r) => setTimeout(r, after));
          // A replacement started while Redis restarts may stop at once: it is started again.
          for (let attempt = 1; ; attempt++) {
            try {
              await this.#cluster.startWorker(kind);
              break;
            } catch (err) {
              if (attempt >= 5) throw err;
              this.#say(`chaos: a new ${kind} did not start (${(err as Error).message}); again`);
              await new Promise((r) => setTimeout(r, 1000));
            }
          }
          this.counts.restarts[kind] += 1;
        })(),
      );
    }
  }

  /** Queues a random fault at the emulator now and then. */
  async faults(everyS: number): Promise<void> {
    while (await this.#pause(everyS)) {
      const roll = this.#random();
      const target = this.#pick(FAULT_TARGETS);
      let kind: string;
      let path = "/_emulator/faults";
      let spec: Record<string, unknown>;
      if (roll < 0.3) {
        kind = "429";
        spec = { target, status: 429, retryAfterSeconds: 1, times: 1 + Math.floor(this.#random() * 2) };
      } else if (roll < 0.6) {
        kind = "500";
        spec = { target, status: 500, times: 1 + Math.floor(this.#random() * 2) };
      } else if (roll < 0.8) {
        kind = "slow";
        spec = {
          target,
          delayMs: 500 + Math.floor(this.#random() * 2500),
          times: 1 + Math.floor(this.#random() * 3),
        };
      } else if (roll < 0.9 && this.#lostReplies) {
        // The call takes effect, its reply is lost (a proxy's 500): a file stored or a batch created
        // that the caller does not know of. It must not lead to a line run twice.
        kind = "lost-reply";
        spec = { target: this.#pick(["files.create", "batches.create"]), status: 500, after: true };
      } else {
        // A batch that expires or is cancelled with half its lines done: the rest must be sent again.
        kind = roll < 0.96 ? "expire" : "cancel";
        path = "/_emulator/next-batch";
        spec = { outcome: kind };
      }
      const res = await fetch(`${this.#cluster.emulatorUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(spec),
      });
      if (!res.ok) throw new Error(`emulator refused a fault: ${res.status} ${await res.text()}`);
      this.counts.faults[kind] = (this.counts.faults[kind] ?? 0) + 1;
    }
  }

  /** Restarts Redis once, after `afterS`, down for `downMs`. */
  async redisRestart(afterS: number, downMs: number): Promise<void> {
    await new Promise((r) => setTimeout(r, afterS * 1000));
    if (this.#stopped.signal.aborted) return;
    this.#say("restarting Redis (append-only file kept)");
    await this.#cluster.restartRedis(downMs);
    this.counts.redisRestarts += 1;
    this.#say("Redis is back");
  }

  /** Stops making trouble: no more kills or faults, every replacement started, the faults queued cleared. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await fetch(`${this.#cluster.emulatorUrl}/_emulator/faults`, { method: "DELETE" });
  }
}
