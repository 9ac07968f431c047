import { describe, expect, it } from "vitest";
import { batchStatusOf } from "./batch-status.ts";

describe("batchStatusOf", () => {
  it("is the collating step while there is no provider batch", () => {
    expect(batchStatusOf({ state: "preparing", status: null })).toBe("preparing");
    expect(batchStatusOf({ state: "creating", status: null, verdict: null })).toBe("creating");
  });

  it("is the provider's status once there is one", () => {
    expect(batchStatusOf({ state: "submitted", status: "in_progress" })).toBe("in_progress");
    expect(batchStatusOf({ state: "done", status: "expired" })).toBe("expired");
  });

  it("is our verdict for a record that ended without a batch, whichever field holds it", () => {
    expect(batchStatusOf({ state: "done", status: null, verdict: "empty" })).toBe("empty");
    // Records written before the verdict field carry it in `status`.
    expect(batchStatusOf({ state: "done", status: "create_refused" })).toBe("create_refused");
  });
});
