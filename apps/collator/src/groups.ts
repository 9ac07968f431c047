import { type CollateJob, embeddingInputCount, MAX_EMBEDDING_INPUTS_PER_BATCH } from "@batch-gpt/contracts";
import type { Job } from "@batch-gpt/queue";
import { lineBytes } from "./jsonl.ts";

export interface HeldJob {
  job: Job<CollateJob>;
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
  bytes = 0;
  embeddingInputs = 0;

  constructor(key: string) {
    this.key = key;
  }

  /** Whether `held` fits without crossing a limit (an empty group takes anything). */
  fits(held: HeldJob, limits: Limits): boolean {
    if (this.jobs.length === 0) return true;
    if (this.jobs.length + 1 > limits.maxLines) return false;
    if (this.bytes + sizeOf(held) > limits.maxBytes) return false;
    if (held.data.endpoint === "/v1/embeddings") {
      return this.embeddingInputs + inputsOf(held) <= MAX_EMBEDDING_INPUTS_PER_BATCH;
    }
    return true;
  }

  add(held: HeldJob): void {
    this.jobs.push(held);
    this.bytes += sizeOf(held);
    if (held.data.endpoint === "/v1/embeddings") this.embeddingInputs += inputsOf(held);
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
