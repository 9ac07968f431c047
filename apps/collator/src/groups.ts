import { type CollateJob, embeddingInputCount, MAX_EMBEDDING_INPUTS_PER_BATCH } from "@batch-gpt/contracts";
import type { JobRef } from "@batch-gpt/queue";
import { lineBytes } from "./jsonl.ts";
import type { Spool } from "./spool.ts";

/** A collate job's payload without its body, which a held job keeps apart (`HeldJob.body`). */
export type JobData = Omit<CollateJob, "body">;

/**
 * A job the collator holds: what it needs to move the job on (not the BullMQ `Job`), and its payload.
 * The body is let go (null) once its line is in the group's spool and its request record in the store:
 * from then on the batch file comes from the spool, and anything else from the store.
 */
export interface HeldJob {
  job: JobRef;
  token: string;
  data: JobData;
  body: string | null;
  /** Its line's id (`lineId`), made once: the spool, the record and the fences all name it. */
  line: string;
}

/** The job's payload whole, for writing its request record: only a job still holding its body has it. */
export function collateJob(held: HeldJob): CollateJob {
  if (held.body === null) throw new Error(`request ${held.data.requestId}: its body was let go`);
  return { ...held.data, body: held.body };
}

export interface Limits {
  windowMs: number;
  maxLines: number;
  maxBytes: number;
}

/** One batch is one provider, one endpoint, one model: OpenAI refuses files that mix models. */
export const groupKey = (d: Pick<CollateJob, "provider" | "endpoint" | "model">) =>
  `${d.provider}|${d.endpoint}|${d.model}`;

/** Jobs gathered for one future batch, with what the limits are counted in. */
export class Group {
  readonly key: string;
  readonly jobs: HeldJob[] = [];
  /** Each request's job in the group: one request is one line of a batch file (`custom_id` is unique). */
  readonly #byRequest = new Map<string, HeldJob>();
  bytes = 0;
  /** Characters of the bodies it still holds (not let go): what the collator's memory bound counts. */
  bodyChars = 0;
  /** Its batch file, a line appended per job as it comes; null when none could be opened. */
  spool: Spool | null = null;
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
      this.bodyChars += bodyChars(held) - bodyChars(twin!);
      return twin;
    }
    this.jobs.push(held);
    this.unrecorded.push(held);
    this.bytes += sizeOf(held);
    this.bodyChars += bodyChars(held);
    if (held.data.endpoint === "/v1/embeddings") this.embeddingInputs += inputsOf(held);
    return undefined;
  }

  /** Lets go of a job's body (its line is in the spool, its record in the store); its characters. */
  release(held: HeldJob): number {
    const chars = bodyChars(held);
    held.body = null;
    this.bodyChars -= chars;
    return chars;
  }

  full(limits: Limits): boolean {
    return (
      this.jobs.length >= limits.maxLines ||
      this.bytes >= limits.maxBytes ||
      this.embeddingInputs >= MAX_EMBEDDING_INPUTS_PER_BATCH
    );
  }
}

/** Characters of the body a job holds (none once let go): what the collator's memory bound counts. */
export const bodyChars = (h: HeldJob) => h.body?.length ?? 0;

// Both are asked of a job as it is added, before its body can have been let go.
const sizeOf = (h: HeldJob) => lineBytes(h.data.requestId, h.data.endpoint, h.body ?? "");

function inputsOf(h: HeldJob): number {
  try {
    return embeddingInputCount(JSON.parse(h.body ?? "") as Record<string, unknown>);
  } catch {
    return 1;
  }
}
