import { describe, expect, it } from "vitest";
import { parseResultLine } from "./results.ts";

const attempts = new Map([
  ["req_first", 0],
  ["req_again", 2],
]);

const line = (value: unknown) => JSON.stringify(value);
const bodyOf = (answer: { body: string }) => JSON.parse(answer.body) as unknown;

const completion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
};

describe("parseResultLine", () => {
  describe("the usage of an answer", () => {
    const usage = { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 };
    const parse = (statusCode: number, body: unknown) =>
      parseResultLine(
        line({ custom_id: "req_first", response: { status_code: statusCode, body }, error: null }),
        attempts,
      );

    it("is taken from a success's body, as the outcome stores it", () => {
      expect(parse(200, { ...completion, usage })?.usage).toBe(JSON.stringify(usage));
    });

    it("is null for a success without one, and for an error answer", () => {
      expect(parse(200, completion)?.usage).toBeNull();
      expect(parse(400, { error: { message: "no" }, usage })?.usage).toBeNull();
    });
  });

  describe("lines with a response", () => {
    it("answers a success line with the response's status and body", () => {
      const outcome = parseResultLine(
        line({
          id: "batch_req_1",
          custom_id: "req_first",
          response: { status_code: 200, request_id: "r1", body: completion },
          error: null,
        }),
        attempts,
      );
      expect(outcome).not.toBeNull();
      expect(outcome).toMatchObject({ kind: "answer", requestId: "req_first", attempt: 0 });
      expect(outcome!.answer.statusCode).toBe(200);
      expect(bodyOf(outcome!.answer)).toEqual(completion);
      expect(outcome!.retryAfterMs).toBeUndefined();
    });

    it("passes a line's own error response through as the answer, status and body unchanged", () => {
      const error = {
        error: { message: "bad value", type: "invalid_request_error", param: "temperature", code: null },
      };
      const outcome = parseResultLine(
        line({ custom_id: "req_again", response: { status_code: 400, body: error }, error: null }),
        attempts,
      );
      expect(outcome).toMatchObject({ kind: "answer", requestId: "req_again", attempt: 2 });
      expect(outcome!.answer.statusCode).toBe(400);
      expect(bodyOf(outcome!.answer)).toEqual(error);
    });

    it("keeps a 5xx response as an answer, not a retry", () => {
      const outcome = parseResultLine(
        line({ custom_id: "req_first", response: { status_code: 500, body: { error: { message: "x" } } } }),
        attempts,
      );
      expect(outcome?.kind).toBe("answer");
      expect(outcome?.answer.statusCode).toBe(500);
    });

    it("stores a response without a body as JSON null", () => {
      const outcome = parseResultLine(
        line({ custom_id: "req_first", response: { status_code: 204 } }),
        attempts,
      );
      expect(outcome?.answer).toEqual({ statusCode: 204, body: "null" });
    });

    it("prefers the response over an error on the same line", () => {
      const outcome = parseResultLine(
        line({
          custom_id: "req_first",
          response: { status_code: 200, body: completion },
          error: { code: "batch_expired", message: "late" },
        }),
        attempts,
      );
      expect(outcome?.kind).toBe("answer");
      expect(outcome?.answer.statusCode).toBe(200);
    });
  });

  describe("lines with an error and no response", () => {
    it("answers a failed line with a 400 carrying the provider's code and message", () => {
      const outcome = parseResultLine(
        line({
          custom_id: "req_first",
          response: null,
          error: { code: "invalid_request", message: "The line was malformed." },
        }),
        attempts,
      );
      expect(outcome).toMatchObject({ kind: "answer", requestId: "req_first", attempt: 0 });
      expect(outcome!.answer.statusCode).toBe(400);
      expect(bodyOf(outcome!.answer)).toEqual({
        error: {
          message: "The line was malformed.",
          type: "invalid_request_error",
          param: null,
          code: "invalid_request",
        },
      });
    });

    it.each(["batch_expired", "batch_cancelled"])(
      "marks a line that never ran (%s) unfinished, with a 503 server error to give if it is not resent",
      (code) => {
        const outcome = parseResultLine(
          line({ custom_id: "req_again", response: null, error: { code, message: "It did not run." } }),
          attempts,
        );
        expect(outcome).toMatchObject({ kind: "unfinished", requestId: "req_again", attempt: 2 });
        expect(outcome!.answer.statusCode).toBe(503);
        expect(bodyOf(outcome!.answer)).toEqual({
          error: { message: "It did not run.", type: "server_error", param: null, code },
        });
      },
    );

    it("treats other codes, even similar ones, as final", () => {
      for (const code of ["batch_failed", "BATCH_EXPIRED", "expired", "cancelled"]) {
        const outcome = parseResultLine(
          line({ custom_id: "req_first", error: { code, message: "m" } }),
          attempts,
        );
        expect(outcome?.kind).toBe("answer");
        expect(outcome?.answer.statusCode).toBe(400);
      }
    });

    it("fills in a code and message when the provider gives none", () => {
      for (const error of [null, undefined, {}, { code: null, message: null }]) {
        const outcome = parseResultLine(line({ custom_id: "req_first", response: null, error }), attempts);
        expect(outcome?.kind).toBe("answer");
        expect(outcome?.answer.statusCode).toBe(400);
        expect(bodyOf(outcome!.answer)).toEqual({
          error: {
            message: "The batch line failed without a response.",
            type: "invalid_request_error",
            param: null,
            code: "batch_line_failed",
          },
        });
      }
    });

    it("keeps the provider's message when only the code is missing, and the reverse", () => {
      const noCode = parseResultLine(line({ custom_id: "req_first", error: { message: "why" } }), attempts);
      expect(bodyOf(noCode!.answer)).toMatchObject({ error: { message: "why", code: "batch_line_failed" } });
      const noMessage = parseResultLine(
        line({ custom_id: "req_first", error: { code: "batch_expired" } }),
        attempts,
      );
      expect(noMessage?.kind).toBe("unfinished");
      expect(bodyOf(noMessage!.answer)).toMatchObject({
        error: { message: "The batch line failed without a response.", code: "batch_expired" },
      });
    });

    it("does not count a response without a numeric status as an answer", () => {
      const outcome = parseResultLine(
        line({ custom_id: "req_first", response: { status_code: "200", body: completion } }),
        attempts,
      );
      expect(outcome?.kind).toBe("answer");
      expect(outcome?.answer.statusCode).toBe(400);
      expect(bodyOf(outcome!.answer)).toMatchObject({ error: { code: "batch_line_failed" } });
    });
  });

  describe("lines it cannot attribute", () => {
    const success = (customId: unknown) =>
      line({ custom_id: customId, response: { status_code: 200, body: completion } });

    it("ignores a custom id that is not one of this batch's lines", () => {
      expect(parseResultLine(success("req_other"), attempts)).toBeNull();
      expect(parseResultLine(success("REQ_FIRST"), attempts)).toBeNull();
      expect(parseResultLine(success("req_first"), new Map())).toBeNull();
    });

    it("ignores a line without a custom id", () => {
      expect(
        parseResultLine(line({ response: { status_code: 200, body: completion } }), attempts),
      ).toBeNull();
      expect(parseResultLine(success(""), attempts)).toBeNull();
      expect(parseResultLine(success(null), attempts)).toBeNull();
    });

    it("ignores text that is not JSON", () => {
      for (const text of ["", "   ", "{", "not json", '{"custom_id":"req_first"', "req_first"]) {
        expect(parseResultLine(text, attempts)).toBeNull();
      }
    });

    it("ignores JSON that is not an object", () => {
      for (const text of ["42", '"req_first"', "[]", "true"]) {
        expect(parseResultLine(text, attempts)).toBeNull();
      }
    });

    it("ignores a line that is JSON null rather than throwing", () => {
      expect(parseResultLine("null", attempts)).toBeNull();
    });
  });

  it("looks the attempt up by custom id, attempt 0 included", () => {
    const many = new Map([
      ["req_a", 0],
      ["req_b", 1],
      ["req_c", 7],
    ]);
    for (const [id, attempt] of many) {
      const outcome = parseResultLine(
        line({ custom_id: id, response: { status_code: 200, body: {} } }),
        many,
      );
      expect(outcome?.requestId).toBe(id);
      expect(outcome?.attempt).toBe(attempt);
    }
  });
});
