import { type CollateJob, type Endpoint, MAX_EMBEDDING_INPUTS_PER_BATCH } from "@batch-gpt/contracts";
import type { Job } from "@batch-gpt/queue";
import { describe, expect, it } from "vitest";
import {
  bodyChars,
  collateJob as collateJobOf,
  Group,
  groupKey,
  type HeldJob,
  type Limits,
} from "./groups.ts";
import { lineBytes } from "./jsonl.ts";

let next = 0;
const collateJob = (over: Partial<CollateJob> = {}): CollateJob => ({
  requestId: `req_${String(next++).padStart(12, "0")}`,
  attempt: 0,
  owner: "owner-a",
  provider: "openai",
  endpoint: "/v1/chat/completions",
  model: "gpt-4o-mini",
  body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  key: "k",
  traceId: "t",
  createdAt: 0,
  ...over,
});

/** Group only reads `data` and `body`; the BullMQ job and its lock token are carried along untouched. */
const held = (over: Partial<CollateJob> = {}): HeldJob => {
  const { body, ...data } = collateJob(over);
  return {
    job: { id: data.requestId, data } as unknown as Job<CollateJob>,
    token: "lock",
    data,
    body,
    line: `${data.requestId}:${data.attempt}`,
  };
};

const sizeOf = (h: HeldJob) => lineBytes(h.data.requestId, h.data.endpoint, h.body!);
const roomy: Limits = { windowMs: 1000, maxLines: 1000, maxBytes: 10_000_000 };

const embedding = (input: unknown) =>
  held({
    endpoint: "/v1/embeddings",
    model: "text-embedding-3-small",
    body: JSON.stringify({ model: "text-embedding-3-small", input }),
  });

describe("groupKey", () => {
  it("is the same for jobs of one provider, endpoint and model, whatever else differs", () => {
    const a = collateJob({ owner: "owner-a", attempt: 0, body: '{"a":1}', key: "k1" });
    const b = collateJob({ owner: "owner-b", attempt: 2, body: '{"b":2}', key: "k2" });
    expect(groupKey(a)).toBe(groupKey(b));
  });

  it("differs when the provider, the endpoint or the model differs", () => {
    const base = collateJob();
    const keys = new Set([
      groupKey(base),
      groupKey({ ...base, provider: "other" }),
      groupKey({ ...base, endpoint: "/v1/completions" as Endpoint }),
      groupKey({ ...base, model: "gpt-4.1-nano" }),
    ]);
    expect(keys.size).toBe(4);
  });

  it("names the provider, endpoint and model in that order", () => {
    expect(groupKey(collateJob({ provider: "p", endpoint: "/v1/embeddings", model: "m" }))).toBe(
      "p|/v1/embeddings|m",
    );
  });
});

describe("Group", () => {
  it("starts empty with its key", () => {
    const group = new Group("p|e|m");
    expect(group.key).toBe("p|e|m");
    expect(group.jobs).toEqual([]);
    expect(group.bytes).toBe(0);
    expect(group.embeddingInputs).toBe(0);
  });

  it("counts each added job's line bytes and keeps the jobs in order", () => {
    const group = new Group("g");
    const a = held();
    const b = held({
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "é".repeat(40) }] }),
    });
    group.add(a);
    group.add(b);
    expect(group.jobs).toEqual([a, b]);
    expect(group.bytes).toBe(sizeOf(a) + sizeOf(b));
    // Bytes, not characters: the two-byte "é" counts twice.
    expect(sizeOf(b) - sizeOf(a)).toBeGreaterThanOrEqual(40);
    // Chat lines carry no embedding inputs.
    expect(group.embeddingInputs).toBe(0);
  });

  describe("by lines", () => {
    const limits: Limits = { ...roomy, maxLines: 3 };

    it("takes jobs until the line limit, then is full and refuses more", () => {
      const group = new Group("g");
      for (let i = 0; i < 3; i++) {
        expect(group.full(limits)).toBe(false);
        const job = held();
        expect(group.fits(job, limits)).toBe(true);
        group.add(job);
      }
      expect(group.jobs).toHaveLength(3);
      expect(group.full(limits)).toBe(true);
      expect(group.fits(held(), limits)).toBe(false);
    });

    it("with a one-line limit, is full after its first job", () => {
      const one: Limits = { ...roomy, maxLines: 1 };
      const group = new Group("g");
      expect(group.fits(held(), one)).toBe(true);
      group.add(held());
      expect(group.full(one)).toBe(true);
      expect(group.fits(held(), one)).toBe(false);
    });
  });

  describe("by bytes", () => {
    it("takes a job that lands exactly on the byte limit, and is then full", () => {
      const first = held();
      const second = held();
      const limits: Limits = { ...roomy, maxBytes: sizeOf(first) + sizeOf(second) };
      const group = new Group("g");
      group.add(first);
      expect(group.full(limits)).toBe(false);
      expect(group.fits(second, limits)).toBe(true);
      group.add(second);
      expect(group.bytes).toBe(limits.maxBytes);
      expect(group.full(limits)).toBe(true);
    });

    it("refuses a job that would cross the byte limit by one byte", () => {
      const first = held();
      const second = held();
      const limits: Limits = { ...roomy, maxBytes: sizeOf(first) + sizeOf(second) - 1 };
      const group = new Group("g");
      group.add(first);
      expect(group.full(limits)).toBe(false);
      expect(group.fits(second, limits)).toBe(false);
    });

    it("takes any job when empty, even one larger than the byte limit (a line must go somewhere)", () => {
      const big = held({
        body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x".repeat(5000) }] }),
      });
      const limits: Limits = { ...roomy, maxBytes: 1024 };
      const group = new Group("g");
      expect(sizeOf(big)).toBeGreaterThan(limits.maxBytes);
      expect(group.fits(big, limits)).toBe(true);
      group.add(big);
      expect(group.full(limits)).toBe(true);
      expect(group.fits(held(), limits)).toBe(false);
    });

    it("counts the line envelope, not just the body", () => {
      const job = held();
      expect(sizeOf(job)).toBeGreaterThan(Buffer.byteLength(job.body!));
      const limits: Limits = { ...roomy, maxBytes: Buffer.byteLength(job.body!) * 2 };
      const group = new Group("g");
      group.add(held());
      // Two bodies fit in maxBytes, but two lines with their envelopes do not.
      expect(group.fits(job, limits)).toBe(false);
    });
  });

  describe("embedding inputs", () => {
    it("counts an array input by its length and a single input as one", () => {
      const group = new Group("g");
      group.add(embedding(["a", "b", "c"]));
      group.add(embedding("one"));
      group.add(embedding([[1, 2, 3]]));
      expect(group.embeddingInputs).toBe(5);
    });

    it("counts a body that is not JSON as one input", () => {
      const group = new Group("g");
      group.add(held({ endpoint: "/v1/embeddings", body: "not json" }));
      expect(group.embeddingInputs).toBe(1);
    });

    it("refuses a job that would take the batch past the embedding input limit", () => {
      const group = new Group("g");
      group.add(embedding(Array.from({ length: MAX_EMBEDDING_INPUTS_PER_BATCH - 2 }, () => "x")));
      expect(group.full(roomy)).toBe(false);
      expect(group.fits(embedding(["a", "b"]), roomy)).toBe(true);
      expect(group.fits(embedding(["a", "b", "c"]), roomy)).toBe(false);
      group.add(embedding(["a", "b"]));
      expect(group.embeddingInputs).toBe(MAX_EMBEDDING_INPUTS_PER_BATCH);
      expect(group.full(roomy)).toBe(true);
      expect(group.fits(embedding("one more"), roomy)).toBe(false);
    });

    it("ignores input counts on other endpoints", () => {
      const group = new Group("g");
      const manyInputs = held({
        endpoint: "/v1/responses",
        body: JSON.stringify({ model: "m", input: Array.from({ length: 10 }, () => "x") }),
      });
      group.add(manyInputs);
      expect(group.embeddingInputs).toBe(0);
      expect(group.fits(manyInputs, roomy)).toBe(true);
    });
  });
});

describe("Group: one line per request", () => {
  it("takes a job fetched again (its lock lapsed) in place of its old handle", () => {
    const group = new Group("g");
    const first = held();
    const other = held();
    group.add(first);
    group.add(other);
    const again: HeldJob = { ...first, token: "new-lock" };
    expect(group.fits(again, roomy)).toBe(true);
    expect(group.add(again)).toBe(first);
    expect(group.jobs).toEqual([again, other]);
    expect(group.bytes).toBe(sizeOf(first) + sizeOf(other));
  });

  it("does not take another attempt of a request it holds", () => {
    const group = new Group("g");
    const first = held();
    group.add(first);
    expect(group.fits(held({ requestId: first.data.requestId, attempt: 1 }), roomy)).toBe(false);
  });
});

describe("Group: bodies let go", () => {
  it("counts only the bodies it still holds, and keeps the lines' bytes", () => {
    const group = new Group("g");
    const a = held();
    const b = held({
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x".repeat(100) }] }),
    });
    group.add(a);
    group.add(b);
    const bytes = group.bytes;
    expect(group.bodyChars).toBe(bodyChars(a) + bodyChars(b));
    expect(group.release(b)).toBeGreaterThan(100);
    expect(b.body).toBeNull();
    expect(bodyChars(b)).toBe(0);
    expect(group.bodyChars).toBe(bodyChars(a));
    // Let go twice: nothing more to count.
    expect(group.release(b)).toBe(0);
    expect(group.bodyChars).toBe(bodyChars(a));
    expect(group.bytes).toBe(bytes);
  });

  it("counts the body of a job fetched again in place of one whose body was let go", () => {
    const group = new Group("g");
    const first = held();
    group.add(first);
    const chars = bodyChars(first);
    const again: HeldJob = { ...first, token: "new-lock" };
    group.release(first);
    expect(group.bodyChars).toBe(0);
    expect(group.add(again)).toBe(first);
    expect(group.bodyChars).toBe(chars);
  });

  it("gives a job's payload whole only while it holds its body", () => {
    const job = held();
    const body = job.body;
    expect(collateJobOf(job)).toEqual({ ...job.data, body });
    new Group("g").release(job);
    expect(() => collateJobOf(job)).toThrow(/let go/);
  });
});
