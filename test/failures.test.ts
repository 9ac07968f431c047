import { apiError, type Stack, startStack } from "@batch-gpt/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { MAX_RESUBMITS: "2" } });
});
afterAll(() => stack?.close());
beforeEach(async () => {
  await stack.control("faults", undefined, "DELETE");
});

const ask = (content: string, model = "gpt-4o-mini") =>
  stack.client.chat.completions.create({ model, messages: [{ role: "user", content }] }).withResponse();

describe("a failed line reaches exactly its own caller", () => {
  it.each([
    [400, OpenAI.BadRequestError],
    [429, OpenAI.RateLimitError],
    [500, OpenAI.InternalServerError],
  ])(
    "relays a line that failed with %i as that status, with x-should-retry: false",
    async (status, errorClass) => {
      const [bad, good] = await Promise.all([
        apiError(ask(`please fail [[fail:${status}]]`)),
        ask(`a good neighbour of ${status}`),
      ]);
      expect(bad).toBeInstanceOf(errorClass);
      expect(bad.status).toBe(status);
      expect(bad.headers?.get("x-should-retry")).toBe("false");
      expect(bad.error).toMatchObject({ message: expect.any(String) });
      expect(good.data.choices[0]?.message.content).toBe(`echo: a good neighbour of ${status}`);
    },
  );

  it("does not cache a failure: the same request later is a new attempt", async () => {
    await apiError(ask("fail once [[fail:500]]"));
    const lines = (await stack.emulatorStats()).linesSubmitted;
    await apiError(ask("fail once [[fail:500]]"));
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines + 1);
  });
});

describe("a batch that fails as a whole", () => {
  it("fails every caller of a batch failed at validation, with an error, never a hang", async () => {
    await stack.control("next-batch", { outcome: "failed_validation" });
    const errors = await Promise.all(
      ["v1", "v2", "v3"].map((c) => apiError(ask(`validation ${c}`, "gpt-validation"))),
    );
    for (const error of errors) {
      expect(error.status).toBe(400);
      expect(error.headers?.get("x-should-retry")).toBe("false");
    }
  });

  it("sends the lines of a batch refused for the enqueued-token limit again, and answers them", async () => {
    await stack.control("next-batch", { outcome: "token_limit_exceeded" });
    const answers = await Promise.all(["t1", "t2"].map((c) => ask(`token limit ${c}`, "gpt-token-limit")));
    expect(answers.map((a) => a.data.choices[0]?.message.content)).toEqual([
      "echo: token limit t1",
      "echo: token limit t2",
    ]);
    const batches = (await stack.emulatorStats()).batches.filter((b) => b.model === "gpt-token-limit");
    expect(batches.map((b) => b.status)).toEqual(["failed", "completed"]);
  });
});

describe("expired and cancelled batches", () => {
  it("answers the finished lines of an expired batch and resubmits the rest until answered", async () => {
    await stack.control("next-batch", { outcome: "expire", completeLines: 2 });
    const prompts = ["e1", "e2", "e3", "e4", "e5"].map((p) => `expiring ${p}`);
    const answers = await Promise.all(prompts.map((p) => ask(p, "gpt-expire")));
    expect(answers.map((a) => a.data.choices[0]?.message.content)).toEqual(prompts.map((p) => `echo: ${p}`));
    const batches = (await stack.emulatorStats()).batches.filter((b) => b.model === "gpt-expire");
    expect(batches.map((b) => [b.status, b.lines])).toEqual([
      ["expired", 5],
      ["completed", 3],
    ]);
  });

  it("fails the unfinished lines once resubmissions are used up", async () => {
    // MAX_RESUBMITS is 2: three expiries in a row leave the unfinished line without an answer.
    for (let i = 0; i < 3; i++) await stack.control("next-batch", { outcome: "expire", completeLines: 0 });
    const error = await apiError(ask("always expiring", "gpt-expire-always"));
    expect(error.status).toBe(503);
    expect(error.error).toMatchObject({ code: "batch_expired" });
  });
});

describe("provider faults on the way in", () => {
  it("retries an upload answered 429 and a batch creation answered 500", async () => {
    await stack.control("faults", { target: "files.create", status: 429, times: 1, retryAfterSeconds: 0 });
    await stack.control("faults", { target: "batches.create", status: 500, times: 1 });
    const answer = await ask("despite faults", "gpt-faults");
    expect(answer.data.choices[0]?.message.content).toBe("echo: despite faults");
  });

  it("keeps polling through failed status checks", async () => {
    await stack.control("faults", { target: "batches.retrieve", status: 500, times: 3 });
    const answer = await ask("poll through faults", "gpt-poll-faults");
    expect(answer.data.choices[0]?.message.content).toBe("echo: poll through faults");
  });
});
