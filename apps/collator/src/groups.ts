import { type CollateJob, embeddingInputCount, MAX_EMBEDDING_INPUTS_PER_BATCH } from "@batch-gpt/contracts";
import type { JobRef } from "@batch-gpt/queue";
import { lineBytes } from "./jsonl.ts";

/** A job the collator holds: what it needs to move the job on (not the BullMQ `Job`), and its payload. */
export interface HeldJob {
  job: JobRef;
  token: string;
  data: CollateJob;
}

export interface Limits {
  windowMs: number;
  maxLines: number;
  maxBytes: number;
}

/** One batch is one provider, one endpoint, one model: OpenAI refuses files that mix models. */
export const groupKey = (d: CollateJob) => `${d.provider}|${d.endpoint}|${d.model}`;

/** Jobs gathered for one future batch, with what the limits are counted in. */
export class Group {
  readonly key: string;
  readonly jobs: HeldJob[] = [];
  /** Each request's job in the group: one request is one line of a batch file (`custom_id` is unique). */
  readonly #byRequest = new Map<string, HeldJob>();
  bytes = 0;
  /** Characters of the bodies it holds: what the collator's memory bound counts. */
  bodyChars = 0;
  embeddingInputs = 0;
  /**
   * Requests whose records went into the store while the group was gathering (`Collator#recordEarly`),
   * so a flush writes only the rest; and those the store refused meanwhile (id → reason).
   */
  readonly recorded = new Set<string>();
  readonly refused = new Map<string, string>();
  /** Jobs added since the last early write. */
  unrecorded: HeldJob[] = [];
  /** The early writes, one after the other; never rejects (a failed chunk is written again at flush). */
  early: Promise<void> = Promise.resolve();

  constructor(key: string) {
    this.key = key;
  }

  /** Whether `held` fits without crossing a limit (an empty group takes anything). */
  fits(held: HeldJob, limits: Limits): boolean {
    if (this.jobs.length === 0) return true;
    // Another attempt of the same request: never two lines with one custom_id in one file.
    const twin = this.#byRequest.get(held.data.requestId);
    if (twin && twin.data.attempt !== held.data.attempt) return false;
    if (this.jobs.length + 1 > limits.maxLines) return false;
    if (this.bytes + sizeOf(held) > limits.maxBytes) return false;
    if (held.data.endpoint === "/v1/embeddings") {
      return this.embeddingInputs + inputsOf(held) <= MAX_EMBEDDING_INPUTS_PER_BATCH;
    }
    return true;
  }

  /**
   * Adds the job, or, when the group already holds the same job (fetched again after its lock lapsed:
   * BullMQ handed it back to the queue), takes the new handle in its place and returns the old one,
   * whose lock token is dead.
   */
  add(held: HeldJob): HeldJob | undefined {
    const twin = this.#byRequest.get(held.data.requestId);
    this.#byRequest.set(held.data.requestId, held);
    const at = twin && twin.data.attempt === held.data.attempt ? this.jobs.indexOf(twin) : -1;
    if (at >= 0) {
      this.jobs[at] = held;
      return twin;
    }
    this.jobs.push(held);
    this.unrecorded.push(held);
    this.bytes += sizeOf(held);
    this.bodyChars += held.data.body.length;
    if (held.data.endpoint === "/v1/embeddings") this.embeddingInputs += inputsOf(held);
    return undefined;
  }

  full(limits: Limits): boolean {
    return (
      this.jobs.length >= limits.maxLines ||
      this.bytes >= limits.maxBytes ||
      this.embeddingInputs >= MAX_EMBEDDING_INPUTS_PER_BATCH
    );
  }
}

const sizeOf = (h: HeldJob) => lineBytes(h.data.requestId, h.data.endpoint, h.data.body);

function inputsOf(h: HeldJob): number {
  try {
    return embeddingInputCount(JSON.parse(h.data.body) as Record<string, unknown>);
  } catch {
    return 1;
  }
}
