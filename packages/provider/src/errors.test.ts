import { ApiError } from "@batch-gpt/contracts";
import { describe, expect, it } from "vitest";
import { isPermanentFailure, ProviderError, refusalAnswer, relayedError } from "./errors.ts";

const inner = { message: "Invalid file", type: "invalid_request_error", param: "file", code: "invalid_file" };

describe("ProviderError.fromResponse", () => {
  it("reads OpenAI's whole body and the SDK's inner error object alike", () => {
    for (const body of [{ error: inner }, inner]) {
      const error = ProviderError.fromResponse(400, body, "fallback");
      expect(error).toMatchObject({
        status: 400,
        message: "Invalid file",
        code: "invalid_file",
        param: "file",
      });
      expect(error.type).toBe("invalid_request_error");
    }
  });

  it("falls back to the given message for a body without one (text, null, empty)", () => {
    for (const body of ["<html>bad gateway</html>", null, {}, { error: {} }]) {
      const error = ProviderError.fromResponse(502, body, "file upload failed with 502");
      expect(error).toMatchObject({ status: 502, message: "file upload failed with 502", code: null });
    }
  });
});

describe("retryable versus permanent", () => {
  it("4xx is permanent except 408, 409 and 429; 5xx and network failures are retryable", () => {
    const permanent = (status: number | undefined) => isPermanentFailure(new ProviderError("x", { status }));
    expect([400, 401, 403, 404, 413, 422].map(permanent)).toEqual([true, true, true, true, true, true]);
    expect([408, 409, 429, 500, 502, 503, undefined].map(permanent)).toEqual(Array(7).fill(false));
    expect(isPermanentFailure(new Error("socket hang up"))).toBe(false);
  });
});

describe("how a provider error reaches the caller", () => {
  it("relays status, message, code and param; 409 is final; a provider 5xx is our 502", () => {
    const relayed = relayedError(ProviderError.fromResponse(404, { error: inner }, "x")) as ApiError;
    expect(relayed).toBeInstanceOf(ApiError);
    expect(relayed.toBody()).toEqual({ error: { ...inner } });
    expect(relayed.status).toBe(404);
    const conflict = relayedError(new ProviderError("done already", { status: 409 })) as ApiError;
    expect(conflict).toMatchObject({ status: 409, shouldRetry: false });
    const down = relayedError(new ProviderError("boom", { status: 500 })) as ApiError;
    expect(down).toMatchObject({
      status: 502,
      type: "server_error",
      message: "The batch provider failed: boom",
    });
    const network = new ProviderError("connection reset");
    expect(relayedError(network)).toBe(network);
  });

  it("a refused batch answers each line with the provider's words in OpenAI's error body (either body shape)", () => {
    // The SDK hands on the inner error object, and its message carries the status: only ours is used.
    const viaSdk = refusalAnswer(ProviderError.fromResponse(400, inner, "400 Invalid file"), "create");
    expect(JSON.parse(viaSdk.body).error).toMatchObject({
      message: "Batch create was refused: Invalid file",
      code: "invalid_file",
    });
    const answer = refusalAnswer(ProviderError.fromResponse(400, { error: inner }, "x"), "upload");
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        message: "Batch upload was refused: Invalid file",
        type: "invalid_request_error",
        param: null,
        code: "invalid_file",
      },
    });
  });

  it("never passes on a key the provider quotes back, and reports its refusal of our key as our 502", () => {
    const refused = ProviderError.fromResponse(
      401,
      {
        error: {
          message:
            "Incorrect API key provided: sk-proj-abc*********************wxyz. You can find your API key at …",
          code: "invalid_api_key",
        },
      },
      "401",
    );
    expect(refused.message).not.toMatch(/abc|wxyz/);
    const relayed = relayedError(refused) as ApiError;
    expect(relayed).toMatchObject({ status: 502, type: "server_error" });
    const answer = refusalAnswer(refused, "upload");
    expect(answer.statusCode).toBe(502);
    expect(answer.body).not.toMatch(/sk-|abc|wxyz|invalid_api_key/);
    expect(refusalAnswer(ProviderError.fromResponse(403, {}, "forbidden"), "create").statusCode).toBe(502);
  });
});
