import {
  ApiError,
  CALL_ID_PREFIX,
  type CollateJob,
  type Endpoint,
  newCallId,
  newRequestId,
  QUEUES,
  requestKey,
} from "@batch-gpt/contracts";
import type { Inflight, QueueRegistry } from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";

export interface IntakeRequest {
  endpoint: Endpoint;
  owner: string;
  raw: string;
  body: Record<string, unknown>;
  traceId: string;
}

/**
 * Turns an accepted request into a pending request id: the id of an identical request already in
 * flight (attach), or a new request whose first attempt is queued for the collator.
 */
export class Intake {
  readonly #store: Store;
  readonly #inflight: Inflight;
  readonly #queues: QueueRegistry;
  readonly #provider: string;

  constructor(opts: { store: Store; inflight: Inflight; queues: QueueRegistry; provider: string }) {
    this.#store = opts.store;
    this.#inflight = opts.inflight;
    this.#queues = opts.queues;
    this.#provider = opts.provider;
  }

  key(req: IntakeRequest): string {
    return requestKey(req.owner, req.endpoint, req.body);
  }

  /** Returns the pending request that will answer `req` (shared with identical in-flight requests). */
  async enqueue(req: IntakeRequest, key: string): Promise<{ requestId: string; attached: boolean }> {
    const requestId = newRequestId();
    const owner = await this.#inflight.claim(key, requestId);
    if (owner !== requestId) return { requestId: owner, attached: true };
    const job: CollateJob = {
      requestId,
      attempt: 0,
      owner: req.owner,
      provider: this.#provider,
      endpoint: req.endpoint,
      model: req.body.model as string,
      body: req.raw,
      key,
      traceId: req.traceId,
      createdAt: Date.now(),
    };
    const queue = this.#queues.queue(QUEUES.collate);
    try {
      await queue.add(QUEUES.collate, job, { jobId: requestId });
    } catch {
      // The add may have landed with only its reply lost: then the request is queued after all, and
      // freeing the key would let the client's retry become a second line.
      if (await this.isLost(requestId).catch(() => true)) {
        // Nothing was queued: free the key so the client's retry starts a clean attempt.
        await this.#inflight.release(key, requestId).catch(() => {});
        throw new ApiError(503, "The gateway could not queue the request; please retry.", {
          type: "server_error",
        });
      }
    }
    return { requestId, attached: false };
  }

  /** An async call: an id of its own that points at the (possibly shared) pending request. */
  async recordCall(req: IntakeRequest, requestId: string): Promise<{ id: string; created: number }> {
    const id = newCallId(CALL_ID_PREFIX[req.endpoint]);
    const createdAt = new Date();
    await this.#store.calls.insert({
      _id: id,
      requestId,
      owner: req.owner,
      endpoint: req.endpoint,
      createdAt,
    });
    return { id, created: Math.floor(createdAt.getTime() / 1000) };
  }

  /**
   * True when a request exists nowhere: no job in the queue and no record in the store. The job is
   * checked first because the collator writes the record before it removes the job.
   */
  async isLost(requestId: string): Promise<boolean> {
    const state = await this.#queues.queue(QUEUES.collate).getJobState(requestId);
    if (state !== "unknown") return false;
    return (await this.#store.requests.get(requestId)) === null;
  }
}
