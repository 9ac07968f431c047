import { describe, expect, it } from "vitest";
import { newBatchRecordId, newCallId, newRequestId } from "./ids.ts";

describe("ids", () => {
  it("are their prefix and random hex (12 bytes, 10 for batch records), never repeated", () => {
    // Enough ids to draw several pools of random bytes.
    const ids = Array.from({ length: 3000 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(newCallId("chatcmpl-")).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(newBatchRecordId()).toMatch(/^bgb_[0-9a-f]{20}$/);
  });
});
