import { createRedis } from "@batch-gpt/queue";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Property-based fuzzing of a running gateway with two tenants and an admin key: thousands of malformed
// bodies, headers, paths and ids. Every answer must be a 4xx with OpenAI's error body, the process must
// stay up, and nothing malformed may be queued. FUZZ_RUNS sets the cases per property (default 500: about 2,100 cases).

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const TENANT_A = "sk-fuzz-tenant-a-000000";
const TENANT_B = "sk-fuzz-tenant-b-000000";
const ADMIN = "sk-fuzz-admin-0000000000";
const ENDPOINTS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"] as const;

let stack: Stack;
let cases = 0;
beforeAll(async () => {
  stack = await startStack({
    env: { HOST: "127.0.0.1", GATEWAY_API_KEYS: `${TENANT_A},${TENANT_B}`, GATEWAY_ADMIN_KEYS: ADMIN },
  });
});
afterAll(async () => {
  console.log(`fuzz: ${cases} cases sent to the gateway`);
  await stack?.close();
});

const url = (path: string) => `${stack.gateways[0]!.url}${path}`;

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

/** Sends one case; asserts the answer is a 4xx with OpenAI's error body. */
async function expectRefused(sent: Sent, allowed: (status: number) => boolean = (s) => s >= 400 && s < 500) {
  cases += 1;
  const res = await fetch(url(sent.path), {
    method: sent.method,
    headers: sent.headers,
    ...(sent.body === undefined ? {} : { body: sent.body }),
  });
  const text = await res.text();
  const what = `${sent.method} ${sent.path.slice(0, 80)} → ${res.status} ${text.slice(0, 200)}`;
  expect(allowed(res.status), what).toBe(true);
  const body = JSON.parse(text) as { error?: Record<string, unknown> };
  expect(body.error, what).toBeDefined();
  expect(typeof body.error?.message, what).toBe("string");
  expect(typeof body.error?.type, what).toBe("string");
  expect("param" in (body.error ?? {}) && "code" in (body.error ?? {}), what).toBe(true);
}

const key = fc.constantFrom(TENANT_A, TENANT_B);
const endpoint = fc.constantFrom(...ENDPOINTS);
const auth = (k: string) => ({ authorization: `Bearer ${k}`, "content-type": "application/json" });
const validChat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };

/** JSON text that is not an object a batched endpoint takes: every one of them must be refused. */
const malformedJson: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  // Not JSON at all.
  fc.string().filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
  // JSON, but not an object.
  fc
    .oneof(fc.array(fc.jsonValue()), fc.integer(), fc.string(), fc.constant(null))
    .map((v) => JSON.stringify(v)),
  // An object without a model, or with a model that is not a non-empty string.
  fc
    .dictionary(
      fc.string().filter((k) => k !== "model"),
      fc.jsonValue(),
    )
    .map((o) => JSON.stringify(o)),
  fc
    .oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.constant(""), fc.object())
    .map((model) => JSON.stringify({ ...validChat, model })),
  // A key given twice.
  fc
    .constantFrom("model", "messages", "input", "prompt")
    .map((k) => `{"${k}":"a","model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"${k}":"b"}`),
  fc.string({ minLength: 1, maxLength: 8 }).map((k) => {
    const name = JSON.stringify(k);
    return `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x","extra":{${name}:1,${name}:2}}]}`;
  }),
  // Prototype-pollution keys.
  fc
    .constantFrom("__proto__", "constructor", "prototype")
    .map(
      (k) => `{"${k}":{"polluted":true},"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}`,
    ),
  fc.constant(
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x","__proto__":{"admin":true}}]}',
  ),
  // Nesting far past any limit.
  fc
    .integer({ min: 100, max: 5000 })
    .map(
      (depth) =>
        `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x","n":${"[".repeat(depth)}${"]".repeat(depth)}}]}`,
    ),
  // Numbers no JavaScript number can hold.
  fc
    .constantFrom("1e400", "-1e400", "123456789012345678901234567890e999")
    .map((n) => `{"model":"gpt-4o-mini","max_tokens":${n},"messages":[{"role":"user","content":"x"}]}`),
  // Invalid UTF-8 inside a string.
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => {
    const invalid = Uint8Array.from([0xff, ...bytes.map((b) => b | 0x80), 0xc0]);
    return Buffer.concat([
      Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'),
      invalid,
      Buffer.from('"}]}'),
    ]);
  }),
);

describe("fuzz: a running gateway with two tenants", () => {
  it("refuses every malformed body with a 4xx in OpenAI's shape, queuing nothing", async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, key, malformedJson, async (path, k, body) => {
        await expectRefused({ method: "POST", path, headers: auth(k), body });
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses wrong content types and bad serving modes", async () => {
    const contentType = fc.oneof(
      fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
      ),
      fc.stringMatching(/^[a-z]{1,10}\/[a-z]{1,10}$/).filter((t) => !t.endsWith("/json")),
    );
    await fc.assert(
      fc.asyncProperty(endpoint, key, contentType, async (path, k, type) => {
        await expectRefused({
          method: "POST",
          path,
          headers: { ...auth(k), "content-type": type },
          body: JSON.stringify(validChat),
        });
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
    const mode = fc
      .string({ maxLength: 300 })
      .filter((m) => !["", "sync", "async", "cache"].includes(m.trim().toLowerCase()));
    await fc.assert(
      fc.asyncProperty(key, mode, async (k, m) => {
        const headers = { ...auth(k), "x-batch-mode": m.replace(/[^\x20-\x7e]/g, "") || "x" };
        await expectRefused({
          method: "POST",
          path: "/v1/chat/completions",
          headers,
          body: JSON.stringify(validChat),
        });
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it("refuses every missing, wrong or mangled key with 401", async () => {
    const authorization = fc.oneof(
      fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
      fc.string({ maxLength: 100 }).map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, "")}x`),
      fc.constantFrom(TENANT_A, TENANT_B, ADMIN).map((k) => `Bearer ${k.slice(0, -1)}`),
      fc.constantFrom(TENANT_A, ADMIN).map((k) => `Basic ${Buffer.from(`:${k}`).toString("base64")}`),
    );
    await fc.assert(
      fc.asyncProperty(endpoint, authorization, async (path, value) => {
        await expectRefused(
          {
            method: "POST",
            path,
            headers: { "content-type": "application/json", ...(value ? { authorization: value } : {}) },
            body: JSON.stringify(validChat),
          },
          (s) => s === 401,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("answers hostile paths and ids 404 or 400, never reading another tenant's call", async () => {
    const created = (await (
      await fetch(url("/v1/chat/completions"), {
        method: "POST",
        headers: { ...auth(TENANT_A), "x-batch-mode": "async" },
        body: JSON.stringify({ ...validChat, messages: [{ role: "user", content: "tenant A's own" }] }),
      })
    ).json()) as { id: string };
    const id = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.constantFrom(
        '{"$ne":null}',
        '{"$gt":""}',
        "../../etc/passwd",
        "..",
        "%00",
        "a".repeat(1000),
        created.id,
      ),
      fc.string().map((s) => `${created.id}${s}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS, "/v1/requests"), id, async (base, raw) => {
        await expectRefused(
          { method: "GET", path: `${base}/${encodeURIComponent(raw) || "x"}`, headers: auth(TENANT_B) },
          (s) => s === 404 || s === 400,
        );
      }),
      { numRuns: RUNS },
    );
    const query = fc.string({ maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("after", "status", "limit"), query, async (name, value) => {
        const res = await fetch(url(`/v1/batches?${name}=${encodeURIComponent(value)}`), {
          headers: auth(ADMIN),
        });
        cases += 1;
        expect(res.status, `${name}=${value}`).toBeLessThan(500);
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
    // Tenant A still gets its own call.
    expect([200, 202]).toContain(
      (await fetch(url(`/v1/chat/completions/${created.id}`), { headers: auth(TENANT_A) })).status,
    );
  });

  it("stays up, and queued nothing but the one well-formed request", async () => {
    expect((await fetch(url("/healthz"))).status).toBe(200);
    const ok = await fetch(url("/v1/chat/completions"), {
      method: "POST",
      headers: auth(TENANT_B),
      body: JSON.stringify(validChat),
    });
    expect(ok.status).toBe(200);
    // The only lines the provider ever saw: tenant A's async call and this one.
    await eventually(async () => (await stack.emulatorStats()).linesSubmitted === 2, 30_000);
    const redis = createRedis(stack.env.REDIS_URL!, "client");
    try {
      const claims = await redis.keys(`${stack.env.BULL_PREFIX}:inflight:*`);
      expect(claims).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
