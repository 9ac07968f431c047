import { describe, expect, it } from "vitest";
import { resolveMongo } from "./connections.ts";
import { scrubbedError } from "./logger.ts";

const settings = (MONGODB_URI: string) => ({
  REDIS_URL: "redis://127.0.0.1:6379",
  MONGODB_URI,
  MONGO_PORT: 27017,
  MONGO_USER: "admin",
  MONGO_PASSWORD: "password",
  MONGO_DATABASE: "batchgpt",
  BULL_PREFIX: "batchgpt",
});

describe("secrets in logged errors", () => {
  it("masks a URL's password and keys in an error's message and stack, and drops its input", () => {
    const err = Object.assign(
      new Error("cannot reach mongodb://admin:hunter2@db:27017 with sk-live-123456"),
      {
        input: "mongodb://admin:hunter2@db:27017",
      },
    );
    const logged = JSON.stringify(scrubbedError(err));
    expect(logged).not.toMatch(/hunter2|sk-live/);
    expect(logged).toContain("mongodb://admin:***@db:27017");
    expect(scrubbedError("redis://:pw@h:6379 down")).toBe("redis://:***@h:6379 down");
  });

  it("refuses a malformed MONGODB_URI without quoting it", () => {
    expect(() => resolveMongo(settings("mongodb://admin:hunter2@/db"))).toThrow(
      /MONGODB_URI is not a valid URL/,
    );
    try {
      resolveMongo(settings("mongodb://admin:hunter2@/db"));
    } catch (err) {
      expect(String((err as Error).message)).not.toContain("hunter2");
    }
  });
});
