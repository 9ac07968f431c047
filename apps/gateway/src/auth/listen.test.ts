import { createLogger } from "@batch-gpt/config";
import { describe, expect, it } from "vitest";
import { listenAddress } from "./listen.ts";

const log = createLogger("test", "silent");
const config = (HOST?: string, GATEWAY_UNSAFE_NO_AUTH = false) => ({ HOST, GATEWAY_UNSAFE_NO_AUTH });

describe("listenAddress", () => {
  it("listens on loopback when no key is configured", () => {
    expect(listenAddress(config(), true, log)).toBe("127.0.0.1");
    expect(listenAddress(config("::1"), true, log)).toBe("::1");
  });
  it("refuses an address beyond loopback without keys", () => {
    expect(() => listenAddress(config("0.0.0.0"), true, log)).toThrow(/GATEWAY_UNSAFE_NO_AUTH/);
    expect(() => listenAddress(config("10.0.0.5"), true, log)).toThrow(/no gateway keys/);
  });
  it("takes it with the unsafe flag", () => {
    expect(listenAddress(config("0.0.0.0", true), true, log)).toBe("0.0.0.0");
  });
  it("listens everywhere by default once keys are configured", () => {
    expect(listenAddress(config(), false, log)).toBe("0.0.0.0");
    expect(listenAddress(config("127.0.0.1"), false, log)).toBe("127.0.0.1");
  });
});
