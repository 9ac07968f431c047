import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Ids in paths and query strings are checked before they reach Redis or MongoDB: operator shapes,
// traversal and oversized ids are unknown ids (404) or bad queries (400), in OpenAI's error shape.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const HOSTILE = [
  encodeURIComponent('{"$ne":null}'),
  encodeURIComponent('{"$gt":""}'),
  "..%2F..%2Fetc%2Fpasswd",
  "..",
  "a".repeat(600),
  encodeURIComponent("req_\u0000abc"),
  encodeURIComponent("chatcmpl-\u{1F600}"),
  "%24where",
];

const get = (path: string, method = "GET") => fetch(`${stack.gateways[0]!.url}${path}`, { method });

async function expectOpenAIError(res: Response, status: number) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { message: string; type: string } };
  expect(body.error.type).toMatch(/_error$/);
  // What was sent is never quoted back whole.
  expect(body.error.message.length).toBeLessThan(200);
}

describe("hostile ids", () => {
  it("are unknown ids on every route that takes one", async () => {
    for (const id of HOSTILE) {
      for (const [path, method] of [
        [`/v1/chat/completions/${id}`, "GET"],
        [`/v1/requests/${id}`, "GET"],
        [`/v1/batches/${id}`, "GET"],
        [`/v1/batches/${id}/cancel`, "POST"],
        [`/admin/api/batches/${id}`, "GET"],
        [`/admin/api/requests/${id}`, "GET"],
        [`/admin/api/keys/${id}`, "DELETE"],
      ] as const) {
        await expectOpenAIError(await get(path, method), 404);
      }
    }
  });

  it("are bad queries in the batch list", async () => {
    for (const id of HOSTILE.slice(0, 4)) {
      await expectOpenAIError(await get(`/v1/batches?after=${id}`), 400);
      await expectOpenAIError(await get(`/v1/batches?status=${id}`), 400);
    }
  });

  it("leave the store untouched: a real id still works afterwards", async () => {
    const res = await fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-batch-mode": "async" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "real" }] }),
    });
    const { id } = (await res.json()) as { id: string };
    expect([200, 202]).toContain((await get(`/v1/chat/completions/${id}`)).status);
  });
});
