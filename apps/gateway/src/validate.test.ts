import { ApiError, ENDPOINTS, type Endpoint, REQUIRED_FIELDS } from "@batch-gpt/contracts";
import { describe, expect, it } from "vitest";
import { parseRequestBody } from "./validate.ts";

const CHAT = "/v1/chat/completions";
const messages = [{ role: "user", content: "hi" }];

/** A valid body for each endpoint. */
const VALID: Record<Endpoint, Record<string, unknown>> = {
  "/v1/chat/completions": { model: "gpt-4o-mini", messages },
  "/v1/completions": { model: "gpt-3.5-turbo-instruct", prompt: "Say hi" },
  "/v1/embeddings": { model: "text-embedding-3-small", input: "hello" },
  "/v1/responses": { model: "gpt-4o-mini", input: "hello" },
};

/** The error `parseRequestBody` throws, which must be an ApiError. */
function refusal(endpoint: Endpoint, raw: string): ApiError {
  try {
    parseRequestBody(endpoint, raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error(`expected ${raw} to be refused for ${endpoint}`);
}

/** The provider-shaped refusal: a 400 invalid_request_error with the given message, param and code. */
function expectRefusal(
  error: ApiError,
  expected: { message: string | RegExp; param: string | null; code: string | null },
) {
  expect(error.status).toBe(400);
  expect(error.type).toBe("invalid_request_error");
  expect(error.param).toBe(expected.param);
  expect(error.code).toBe(expected.code);
  if (typeof expected.message === "string") expect(error.message).toBe(expected.message);
  else expect(error.message).toMatch(expected.message);
  expect(error.toBody()).toEqual({
    error: {
      message: error.message,
      type: "invalid_request_error",
      param: expected.param,
      code: expected.code,
    },
  });
}

describe("parseRequestBody", () => {
  describe("refuses", () => {
    it("a body that is not JSON, with OpenAI's message", () => {
      for (const raw of ["", "{", "model=gpt-4o-mini", '{"model":"m",}', "{'model':'m'}"]) {
        expectRefusal(refusal(CHAT, raw), {
          message: /^We could not parse the JSON body of your request\. \(HINT: .*JSON payload\.\)$/,
          param: null,
          code: null,
        });
      }
    });

    it("JSON that is not an object", () => {
      for (const raw of ["null", "[]", `[${JSON.stringify(VALID[CHAT])}]`, "42", '"text"', "true"]) {
        expectRefusal(refusal(CHAT, raw), {
          message: "The request body must be a JSON object.",
          param: null,
          code: null,
        });
      }
    });

    it("a body without a model, on every endpoint", () => {
      for (const endpoint of ENDPOINTS) {
        const { model: _, ...rest } = VALID[endpoint];
        expectRefusal(refusal(endpoint, JSON.stringify(rest)), {
          message: "you must provide a model parameter",
          param: "model",
          code: null,
        });
      }
      expectRefusal(refusal(CHAT, "{}"), {
        message: "you must provide a model parameter",
        param: "model",
        code: null,
      });
    });

    it("a model that is not a string, naming the type it got", () => {
      const cases: [unknown, string][] = [
        [null, "object"],
        [42, "number"],
        [true, "boolean"],
        [["gpt-4o-mini"], "object"],
        [{ name: "gpt-4o-mini" }, "object"],
      ];
      for (const [model, type] of cases) {
        expectRefusal(refusal(CHAT, JSON.stringify({ model, messages })), {
          message: `Invalid type for 'model': expected a string, but got ${type} instead.`,
          param: "model",
          code: "invalid_type",
        });
      }
    });

    it("an empty model", () => {
      const error = refusal(CHAT, JSON.stringify({ model: "", messages }));
      expectRefusal(error, {
        message: "Invalid 'model': expected a non-empty string.",
        param: "model",
        code: "invalid_value",
      });
    });

    it("a body missing its endpoint's required field, or giving it as null", () => {
      for (const endpoint of ENDPOINTS) {
        for (const field of REQUIRED_FIELDS[endpoint]) {
          const { [field]: _, ...without } = VALID[endpoint];
          for (const body of [without, { ...without, [field]: null }]) {
            expectRefusal(refusal(endpoint, JSON.stringify(body)), {
              message: `Missing required parameter: '${field}'.`,
              param: field,
              code: "missing_required_parameter",
            });
          }
        }
      }
    });

    it("requires each endpoint's own field, not another endpoint's", () => {
      // A chat body on the embeddings endpoint has messages but no input.
      expectRefusal(refusal("/v1/embeddings", JSON.stringify(VALID[CHAT])), {
        message: "Missing required parameter: 'input'.",
        param: "input",
        code: "missing_required_parameter",
      });
      expectRefusal(refusal("/v1/completions", JSON.stringify(VALID["/v1/responses"])), {
        message: "Missing required parameter: 'prompt'.",
        param: "prompt",
        code: "missing_required_parameter",
      });
    });

    it("chat messages that are not a non-empty array", () => {
      for (const value of [[], "hi", { role: "user", content: "hi" }, 1, false]) {
        expectRefusal(refusal(CHAT, JSON.stringify({ model: "m", messages: value })), {
          message: "Invalid 'messages': expected a non-empty array of messages.",
          param: "messages",
          code: "invalid_type",
        });
      }
    });

    it("a stream flag that is not a boolean, on every endpoint", () => {
      for (const endpoint of ENDPOINTS) {
        for (const stream of ["true", 1, 0, {}, []]) {
          expectRefusal(refusal(endpoint, JSON.stringify({ ...VALID[endpoint], stream })), {
            message: "Invalid type for 'stream': expected a boolean.",
            param: "stream",
            code: "invalid_type",
          });
        }
      }
    });

    it("reports the first problem: model before required fields before stream", () => {
      expect(refusal(CHAT, JSON.stringify({ stream: "x" })).param).toBe("model");
      expect(refusal(CHAT, JSON.stringify({ model: "m", stream: "x" })).param).toBe("messages");
      expect(refusal(CHAT, JSON.stringify({ model: "m", messages: [], stream: "x" })).param).toBe("messages");
      expect(refusal(CHAT, JSON.stringify({ model: "m", messages, stream: "x" })).param).toBe("stream");
    });
  });

  describe("accepts", () => {
    it("a valid body on every endpoint", () => {
      for (const endpoint of ENDPOINTS) {
        expect(parseRequestBody(endpoint, JSON.stringify(VALID[endpoint]))).toEqual(VALID[endpoint]);
      }
    });

    it("the body as sent: unknown and nested fields kept, nothing added or dropped", () => {
      const body = {
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: [{ type: "text", text: "hi" }], name: "x", future_field: 1 }],
        temperature: 0.2,
        some_new_parameter: { nested: [1, "two", null] },
        metadata: null,
        stream: true,
        stream_options: { include_usage: true },
      };
      expect(parseRequestBody(CHAT, JSON.stringify(body))).toEqual(body);
    });

    it("a boolean stream flag either way, or null (OpenAI: boolean or null)", () => {
      for (const stream of [true, false, null]) {
        expect(parseRequestBody(CHAT, JSON.stringify({ ...VALID[CHAT], stream })).stream).toBe(stream);
      }
    });

    it("embeddings and Responses input in any JSON shape, and messages of any content", () => {
      for (const input of ["", ["a", "b"], [1, 2, 3], [[1, 2]], [{ role: "user", content: "hi" }]]) {
        expect(parseRequestBody("/v1/embeddings", JSON.stringify({ model: "m", input })).input).toEqual(
          input,
        );
        expect(parseRequestBody("/v1/responses", JSON.stringify({ model: "m", input })).input).toEqual(input);
      }
      expect(parseRequestBody(CHAT, JSON.stringify({ model: "m", messages: [{}] })).messages).toEqual([{}]);
    });

    it("a required field given as a falsy value other than null", () => {
      expect(parseRequestBody("/v1/completions", JSON.stringify({ model: "m", prompt: "" })).prompt).toBe("");
      expect(parseRequestBody("/v1/embeddings", JSON.stringify({ model: "m", input: 0 })).input).toBe(0);
    });

    it("JSON with surrounding whitespace and newlines", () => {
      const raw = `\n  ${JSON.stringify(VALID[CHAT], null, 2)}\r\n`;
      expect(parseRequestBody(CHAT, raw)).toEqual(VALID[CHAT]);
    });
  });
});
