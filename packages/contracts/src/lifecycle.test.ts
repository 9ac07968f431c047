import { describe, expect, it } from "vitest";
import { BATCH_STATES, BATCH_TRANSITIONS, deriveRequestState, verdictOf } from "./lifecycle.ts";

describe("deriveRequestState", () => {
  it("an outcome decides, whatever the batch says", () => {
    expect(deriveRequestState({ outcome: { state: "failed" }, batchId: "b", batchState: "submitted" })).toBe(
      "failed",
    );
    expect(deriveRequestState({ outcome: { state: "succeeded" }, batchId: null, batchState: null })).toBe(
      "succeeded",
    );
  });

  it("no line fence means queued", () => {
    expect(deriveRequestState({ outcome: null, batchId: null, batchState: null })).toBe("queued");
  });

  it("placed in a batch: collating until the batch is submitted", () => {
    const of = (batchState: (typeof BATCH_STATES)[number] | null) =>
      deriveRequestState({ outcome: null, batchId: "b", batchState });
    expect(BATCH_STATES.map(of)).toEqual(["collating", "collating", "collating", "submitted", "submitted"]);
    expect(of(null)).toBe("collating");
  });
});

describe("BATCH_TRANSITIONS", () => {
  it("names only known states, and only `done`-free sources (done is final)", () => {
    for (const [name, t] of Object.entries(BATCH_TRANSITIONS)) {
      for (const from of t.from) expect(BATCH_STATES, name).toContain(from);
      expect(t.from, name).not.toContain("done");
      if (t.to !== "same") expect(BATCH_STATES, name).toContain(t.to);
    }
  });

  it("every write from a collating state but the take-over is its holder's, checked by generation", () => {
    for (const [name, t] of Object.entries(BATCH_TRANSITIONS)) {
      const collating = t.from.length > 0 && t.from.every((f) => f !== "submitted");
      expect("holder" in t && t.holder === true, name).toBe(collating && name !== "takeOver");
    }
  });

  it("every state but preparing is reached by some transition, and preparing only by insertion", () => {
    const reached = new Set(Object.values(BATCH_TRANSITIONS).map((t) => t.to));
    for (const state of BATCH_STATES) expect(reached.has(state), state).toBe(true);
    expect(BATCH_TRANSITIONS.prepare.from).toEqual([]);
  });
});

describe("verdictOf", () => {
  it("reads the verdict field, and the status of records written before it existed", () => {
    expect(verdictOf({ verdict: "create_refused", status: null })).toBe("create_refused");
    expect(verdictOf({ status: "empty" })).toBe("empty");
    expect(verdictOf({ status: "upload_refused" })).toBe("upload_refused");
    expect(verdictOf({ status: "completed" })).toBeNull();
    expect(verdictOf({ verdict: null, status: null })).toBeNull();
  });
});
