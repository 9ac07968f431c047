import { type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Bodies are checked in one scan before anything is parsed, looked up or queued: every refusal is a
// 4xx in OpenAI's error shape, and identical-looking requests that differ are never merged.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { MAX_STRING_CHARS: "1000", MAX_MESSAGES: "3" } });
});
afterAll(() => stack?.close());

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${stack.gateways[0]!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });

async function refusal(body: string) {
  const res = await post(body);
  const json = (await res.json()) as { error: Record<string, unknown> };
  expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
  return { status: res.status, ...json.error };
}

const message = (content: string) => ({ role: "user", content });

describe("bodies refused at intake", () => {
  it("a key given twice (two models) is a 400: grouping and the provider would read different ones", async () => {
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"twice"}],"model":"gpt-4.1"}`;
    expect(await refusal(body)).toMatchObject({ status: 400, code: "duplicate_key", param: "model" });
    // Nested, and spelled with an escape: the same key all the same.
    const nested = `{"model":"m","messages":[{"role":"user","content":"a","r\\u006fle":"system"}]}`;
    expect(await refusal(nested)).toMatchObject({ status: 400, code: "duplicate_key" });
  });

  it("deep nesting is a 400, not a 500", async () => {
    const deep = `{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    expect(await refusal(deep)).toMatchObject({ status: 400, code: "nesting_too_deep" });
  });

  it("strings longer than MAX_STRING_CHARS and more than MAX_MESSAGES messages are 400s", async () => {
    const long = JSON.stringify({ model: "m", messages: [message("y".repeat(1001))] });
    expect(await refusal(long)).toMatchObject({ status: 400, code: "string_too_long" });
    const many = JSON.stringify({ model: "m", messages: [1, 2, 3, 4].map((i) => message(`m${i}`)) });
    expect(await refusal(many)).toMatchObject({
      status: 400,
      param: "messages",
      code: "array_above_max_length",
    });
  });

  it("stream_options without stream is OpenAI's 400, before an identical valid request can attach to it", async () => {
    const body = JSON.stringify({
      model: "m",
      messages: [message("opts")],
      stream_options: { include_usage: true },
    });
    expect(await refusal(body)).toMatchObject({
      status: 400,
      param: "stream_options",
      type: "invalid_request_error",
    });
  });
});

describe("integers beyond 2^53", () => {
  const seeded = (seed: string, extra = "") =>
    `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"seeded${extra}"}],"seed":${seed}${extra ? ',"stream":true' : ""}}`;

  it("keep their digits in the dedup and cache key: two seeds one apart are two requests", async () => {
    const before = (await stack.emulatorStats()).linesSubmitted;
    const [a, b] = await Promise.all([post(seeded("9007199254740992")), post(seeded("9007199254740993"))]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await stack.emulatorStats()).linesSubmitted).toBe(before + 2);
    const again = await post(seeded("9007199254740993"));
    expect(again.headers.get("x-batch-cache")).toBe("hit");
  });

  it("keep their digits in the batch line of a streamed request", async () => {
    const res = await post(seeded("12345678901234567891", " streamed"));
    expect(res.status).toBe(200);
    await res.text();
    const auth = { authorization: `Bearer ${stack.env.OPENAI_API_KEY}` };
    let file = "";
    for (const { id } of (await stack.emulatorStats()).batches) {
      const batch = (await (
        await fetch(`${stack.emulator.url}/batches/${id}`, { headers: auth })
      ).json()) as {
        input_file_id: string;
      };
      const url = `${stack.emulator.url}/files/${batch.input_file_id}/content`;
      const text = await (await fetch(url, { headers: auth })).text();
      if (text.includes("seeded streamed")) file = text;
    }
    expect(file).toContain('"seed":12345678901234567891');
    expect(file).not.toContain('"stream"');
  });
});
