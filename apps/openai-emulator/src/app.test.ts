import { describe, expect, it } from "vitest";
import { createEmulatorApp } from "./app.ts";

describe("the emulator app", () => {
  it("answers 401 without a key, with OpenAI's body", async () => {
    const emu = createEmulatorApp();
    try {
      const res = await emu.app.request("/v1/batches");
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ type: "invalid_request_error", param: null, code: null });
      expect(body.error.message).toMatch(/^You didn't provide an API key\. /);
      expect(res.headers.get("x-request-id")).toMatch(/^req_/);
      const empty = await emu.app.request("/v1/batches", { headers: { authorization: "Bearer " } });
      expect(empty.status).toBe(401);
    } finally {
      await emu.close();
    }
  });

  it("checks keys against apiKeys when given", async () => {
    const emu = createEmulatorApp({ apiKeys: ["sk-good"] });
    try {
      const bad = await emu.app.request("/v1/batches", {
        headers: { authorization: "Bearer sk-wrong-key-123" },
      });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({
        error: { code: "invalid_api_key", type: "invalid_request_error" },
      });
      const good = await emu.app.request("/v1/batches", { headers: { authorization: "Bearer sk-good" } });
      expect(good.status).toBe(200);
    } finally {
      await emu.close();
    }
  });

  it("answers 404 in OpenAI's shape for an unknown route, with x-request-id", async () => {
    const emu = createEmulatorApp();
    try {
      const res = await emu.app.request("/v1/nothing", {
        method: "POST",
        headers: { authorization: "Bearer k" },
      });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: {
          message: "Invalid URL (POST /v1/nothing)",
          type: "invalid_request_error",
          param: null,
          code: null,
        },
      });
      expect(res.headers.get("x-request-id")).toBeTruthy();
    } finally {
      await emu.close();
    }
  });
});
