import { setTimeout as sleep } from "node:timers/promises";
import type { Endpoint } from "@batch-gpt/contracts";
import type { ProviderMetrics } from "@batch-gpt/metrics";
import type OpenAI from "openai";
import { isPermanentFailure, ProviderError } from "./errors.ts";
import { streamMultipartUpload } from "./multipart-upload.ts";
import type { BatchProvider, ProviderBatch } from "./provider.ts";

export interface OpenAIProviderOptions {
  apiKey: string;
  /** e.g. https://api.openai.com/v1, or the emulator's /v1 */
  baseURL: string;
  /** Retries of calls that are safe to repeat (never `batches.create`: see `createBatch`). */
  maxRetries?: number;
  /**
   * How long a call may go without an answer (PROVIDER_TIMEOUT_MS): an API call's reply, and a file's
   * upload or download while no byte moves. A provider that accepts the connection and never answers
   * fails the call instead of holding its batch for ever.
   */
  timeoutMs?: number;
  /** Counts failed calls (`batchgpt_provider_errors_total`). */
  metrics?: ProviderMetrics;
}

/** The API calls we make, as `batchgpt_provider_errors_total` labels them. */
type ProviderCall = "upload" | "create" | "retrieve" | "cancel" | "list" | "file_content";

export const DEFAULT_PROVIDER_TIMEOUT_MS = 120_000;

/**
 * The SDK, loaded at its first use: a gateway calls the provider only to cancel a batch, and the SDK's
 * modules are 16 MiB imported alone, about 4 of the gateway's idle RSS (measured by the bench: 145 → 141).
 */
let sdk: Promise<typeof import("openai")> | undefined;
const loadSdk = () => {
  sdk ??= import("openai");
  return sdk;
};

/** OpenAI's Files and Batches APIs through the official SDK, except the upload, which we stream. */
export class OpenAIProvider implements BatchProvider {
  readonly name = "openai";
  #client: Promise<OpenAI> | undefined;
  readonly #opts: OpenAIProviderOptions;
  readonly #timeoutMs: number;

  constructor(opts: OpenAIProviderOptions) {
    this.#opts = opts;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
  }

  /** The SDK's client, made at the first call. */
  #sdkClient(): Promise<OpenAI> {
    this.#client ??= loadSdk().then(
      ({ default: OpenAI }) =>
        new OpenAI({
          apiKey: this.#opts.apiKey,
          baseURL: this.#opts.baseURL,
          maxRetries: this.#opts.maxRetries ?? 2,
          timeout: this.#timeoutMs,
        }),
    );
    return this.#client;
  }

  async uploadBatchFile(path: string, filename: string, signal?: AbortSignal): Promise<{ id: string }> {
    const attempts = (this.#opts.maxRetries ?? 2) + 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const body = (await streamMultipartUpload({
          url: `${this.#opts.baseURL.replace(/\/$/, "")}/files`,
          apiKey: this.#opts.apiKey,
          path,
          filename,
          fields: { purpose: "batch" },
          idleTimeoutMs: this.#timeoutMs,
          ...(signal ? { signal } : {}),
        })) as { id: string };
        return { id: body.id };
      } catch (error) {
        this.#failed("upload", error);
        if (attempt >= attempts || isPermanentFailure(error) || signal?.aborted) throw error;
        await sleep(500 * 2 ** (attempt - 1), undefined, signal ? { signal } : {}).catch(() => {});
        if (signal?.aborted) throw error;
      }
    }
  }

  /**
   * Sent once, never retried here: a create whose reply was lost (a timeout, a reset, a 5xx after the
   * batch was made) may have made a batch that runs and is billed. The caller looks it up by its
   * metadata before it creates again.
   */
  async createBatch(input: { inputFileId: string; endpoint: Endpoint; metadata: Record<string, string> }) {
    return this.#batch("create", async () =>
      (await this.#sdkClient()).batches.create(
        {
          input_file_id: input.inputFileId,
          endpoint: input.endpoint,
          completion_window: "24h",
          metadata: input.metadata,
        },
        { maxRetries: 0 },
      ),
    );
  }

  retrieveBatch(id: string) {
    return this.#batch("retrieve", async () => (await this.#sdkClient()).batches.retrieve(id));
  }

  cancelBatch(id: string) {
    return this.#batch("cancel", async () => (await this.#sdkClient()).batches.cancel(id));
  }

  async findBatchByMetadata(key: string, value: string, notBefore: Date): Promise<ProviderBatch | null> {
    return (await this.findBatchesByMetadata(key, value, notBefore))[0] ?? null;
  }

  async findBatchesByMetadata(key: string, value: string, notBefore: Date): Promise<ProviderBatch[]> {
    const floor = Math.floor(notBefore.getTime() / 1000) - 60;
    return this.#call("list", async () => {
      const found: ProviderBatch[] = [];
      for await (const batch of (await this.#sdkClient()).batches.list({ limit: 100 })) {
        if (batch.created_at < floor) break;
        if (batch.metadata?.[key] === value) found.push(JSON.parse(JSON.stringify(batch)) as ProviderBatch);
      }
      return found;
    });
  }

  /**
   * The file's lines, pulled from the response as the caller asks for them: a slow consumer holds back
   * the download instead of the whole file piling up in memory (readline's iterator buffers every line
   * it is handed, whatever the consumer's pace).
   */
  async *readFileLines(fileId: string): AsyncIterable<string> {
    // The SDK's timeout ends with the reply's headers: a body that stalls is cut by our own watch.
    const abort = new AbortController();
    const response = await this.#call("file_content", async () =>
      (await this.#sdkClient()).files.content(fileId, { signal: abort.signal }),
    );
    if (!response.body) return;
    const decoder = new TextDecoder();
    let rest = "";
    const chunks = (response.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.#within(chunks.next(), abort, `the download of ${fileId} stalled`);
        if (next.done) break;
        rest += decoder.decode(next.value, { stream: true });
        let start = 0;
        for (let end = rest.indexOf("\n"); end >= 0; end = rest.indexOf("\n", start)) {
          const line = rest.slice(start, end);
          start = end + 1;
          if (line.trim()) yield line.endsWith("\r") ? line.slice(0, -1) : line;
        }
        rest = rest.slice(start);
      }
    } catch (error) {
      this.#failed("file_content", error);
      throw error;
    } finally {
      // A reader that stops early (or a failure) must not leave the download open.
      abort.abort();
    }
    rest += decoder.decode();
    if (rest.trim()) yield rest;
  }

  /**
   * `step`, unless no byte came for the timeout: then the download is aborted and the read fails as a
   * network failure (retryable). Measured per chunk, so a long but moving download is never cut.
   */
  async #within<T>(step: Promise<T>, abort: AbortController, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new ProviderError(`${what}: no data for ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([step, stalled]);
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw new ProviderError(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The SDK's Batch, as the plain JSON object we store and serve. */
  async #batch(call: ProviderCall, fn: () => Promise<OpenAI.Batch>): Promise<ProviderBatch> {
    const batch = await this.#call(call, fn);
    return JSON.parse(JSON.stringify(batch)) as ProviderBatch;
  }

  async #call<T>(call: ProviderCall, fn: () => Promise<T>): Promise<T> {
    try {
      return (await fn()) as T;
    } catch (error) {
      this.#failed(call, error);
      // The SDK is loaded: `fn` made its client (or failed to load it, which is no APIError either).
      const { APIError } = await loadSdk().catch(() => ({ APIError: undefined }));
      if (APIError && error instanceof APIError) {
        throw ProviderError.fromResponse(error.status ?? undefined, error.error, error.message);
      }
      throw error;
    }
  }

  /** Counted per attempt that failed (the SDK's own retries inside one call are not seen). */
  #failed(call: ProviderCall, error: unknown): void {
    const status = (error as { status?: unknown }).status;
    this.#opts.metrics?.errors.inc({ call, status: typeof status === "number" ? String(status) : "network" });
  }
}
