import { createRedis } from "@batch-gpt/queue";
import { apiError, eventually, type Stack, startStack } from "@batch-gpt/testing";
import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Client keys, admin keys, tenants and quotas, on two gateway processes sharing Redis and MongoDB.

const TEAM_A = "sk-team-a-0123456789";
const TEAM_B = "sk-team-b-0123456789";
const ADMIN = "sk-admin-0123456789";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    gateways: 2,
    env: {
      HOST: "127.0.0.1",
      GATEWAY_API_KEYS: `${TEAM_A}, ${TEAM_B}`,
      GATEWAY_ADMIN_KEYS: ADMIN,
      KEYS_REFRESH_MS: "200",
    },
  });
});
afterAll(() => stack?.close());

const gateway = (n: 0 | 1) => stack.gateways[n]!;
const sdk = (apiKey: string, n: 0 | 1 = 0) => stack.clientFor(gateway(n), { apiKey });
const chat = (content: string, model = "gpt-4o-mini") => ({
  model,
  messages: [{ role: "user" as const, content }],
});
const http = (path: string, key?: string, init: RequestInit = {}, n: 0 | 1 = 0) =>
  fetch(`${gateway(n).url}${path}`, {
    ...init,
    headers: {
      "content-type": "application/json",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });

async function ask(client: OpenAI, content: string) {
  const { data, response } = await client.chat.completions.create(chat(content)).withResponse();
  return { content: data.choices[0]?.message.content, cache: response.headers.get("x-batch-cache") };
}

async function createKey(body: Record<string, unknown>, n: 0 | 1 = 0) {
  const res = await http("/admin/api/keys", ADMIN, { method: "POST", body: JSON.stringify(body) }, n);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string; name: string; hint: string };
}

describe("keys and roles", () => {
  it("refuses a missing or wrong key with OpenAI's 401, never repeating the key", async () => {
    const missing = await http("/v1/chat/completions", undefined, {
      method: "POST",
      body: JSON.stringify(chat("x")),
    });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(
      /didn't provide an API key/,
    );
    const wrong = await apiError(sdk("sk-not-a-key-424242").chat.completions.create(chat("x")));
    expect(wrong.status).toBe(401);
    expect(wrong.code).toBe("invalid_api_key");
    expect(JSON.stringify(wrong.error)).not.toContain("424242");
  });

  it("keeps batches, the operator API and metrics to admin keys (403 in OpenAI's shape)", async () => {
    for (const path of [
      "/v1/batches",
      "/admin/api/keys",
      "/admin",
      "/admin/queues",
      "/metrics",
      "/anything",
    ]) {
      const res = await http(path, TEAM_A);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("insufficient_permissions");
    }
    expect((await http("/v1/batches", ADMIN)).status).toBe(200);
    expect((await sdk(ADMIN).batches.list()).data).toBeInstanceOf(Array);
  });

  it("leaves the health probes open", async () => {
    expect((await http("/healthz")).status).toBe(200);
    expect((await http("/readyz")).status).toBe(200);
  });

  it("takes keys made with the operator API on every gateway, and stops a revoked one on every gateway", async () => {
    const made = await createKey({ name: "team-c" }, 0);
    expect(made.key).toMatch(/^bgk-/);
    // Made on gateway 0, used on gateway 1: it reloads when Redis's keys version moves.
    const onOther = sdk(made.key, 1);
    await eventually(() => ask(onOther, "made elsewhere").then(() => true), 10_000, "the new key to work");
    const listed = (await (await http("/admin/api/keys", ADMIN, {}, 1)).json()) as { data: { id: string }[] };
    expect(listed.data.map((k) => k.id)).toContain(made.id);
    expect(JSON.stringify(listed)).not.toContain(made.key);

    const revoked = await http(`/admin/api/keys/${made.id}`, ADMIN, { method: "DELETE" }, 0);
    expect(revoked.status).toBe(200);
    await eventually(
      async () => (await apiError(onOther.chat.completions.create(chat("after revoke")))).status === 401,
      10_000,
      "the revoked key to be refused on the other gateway",
    );
    // MongoDB holds the digest only.
    const stored = await stack.store.mongo.db.collection("apiKeys").findOne({ _id: made.id as never });
    expect(JSON.stringify(stored)).not.toContain(made.key);
  });
});

describe("signing in to the dashboards from a browser", () => {
  const form = (key: string) =>
    fetch(`${gateway(0).url}/admin/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key }),
    });

  it("sends a browser without a key to sign in, and refuses a client key there", async () => {
    const page = await fetch(`${gateway(0).url}/admin`, {
      redirect: "manual",
      headers: { accept: "text/html" },
    });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/admin/login");
    expect((await fetch(`${gateway(0).url}/admin/login`)).status).toBe(200);
    const refused = await form(TEAM_A);
    expect(refused.status).toBe(303);
    expect(refused.headers.get("location")).toBe("/admin/login?failed");
    expect(refused.headers.get("set-cookie")).toBeNull();
  });

  it("keeps an admin key in an HttpOnly cookie for /admin only", async () => {
    const signedIn = await form(ADMIN);
    expect(signedIn.headers.get("location")).toBe("/admin");
    const cookie = signedIn.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\/admin/);
    const pair = cookie.split(";")[0] as string;
    expect((await http("/admin/api/keys", undefined, { headers: { cookie: pair } })).status).toBe(200);
    // The cookie is no key anywhere else.
    expect((await http("/v1/batches", undefined, { headers: { cookie: pair } })).status).toBe(401);
    // A change riding on it must come from the dashboard's own origin.
    const crossSite = await http("/admin/api/keys", undefined, {
      method: "POST",
      headers: { cookie: pair, origin: "https://evil.example" },
      body: JSON.stringify({ name: "from-elsewhere" }),
    });
    expect(crossSite.status).toBe(403);
  });
});

describe("tenants", () => {
  it("keeps an async call to its own tenant: another tenant gets the same 404 as an unknown id", async () => {
    const created = await sdk(TEAM_A).post<{ id: string }>("/chat/completions", {
      body: chat("async for A"),
      headers: { "x-batch-mode": "async" },
    });
    const own = await http(`/v1/chat/completions/${created.id}`, TEAM_A);
    expect([200, 202]).toContain(own.status);
    const other = await http(`/v1/chat/completions/${created.id}`, TEAM_B);
    const unknown = await http(`/v1/chat/completions/${created.id.slice(0, -4)}zzzz`, TEAM_B);
    expect(other.status).toBe(404);
    expect(unknown.status).toBe(404);
    const shape = async (r: Response) => {
      const body = (await r.json()) as { error: { message: string; type: string; code: string } };
      return { ...body.error, message: body.error.message.replace(/chatcmpl\S+/, "ID") };
    };
    expect(await shape(other)).toEqual(await shape(unknown));
  });

  it("scopes the cache and dedup per tenant", async () => {
    expect(await ask(sdk(TEAM_A), "scoped")).toEqual({ content: "echo: scoped", cache: "miss" });
    expect(await ask(sdk(TEAM_A, 1), "scoped")).toEqual({ content: "echo: scoped", cache: "hit" });
    const lines = (await stack.emulatorStats()).linesSubmitted;
    expect(await ask(sdk(TEAM_B), "scoped")).toEqual({ content: "echo: scoped", cache: "miss" });
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines + 1);
  });

  it("keeps a tenant's cache across a rotated key", async () => {
    const first = await createKey({ name: "rotating" });
    await eventually(() => ask(sdk(first.key), "before rotation").then(() => true), 10_000);
    const second = await createKey({ name: "rotating" });
    expect(await ask(sdk(second.key), "before rotation")).toEqual({
      content: "echo: before rotation",
      cache: "hit",
    });
  });

  it("answers a model the key may not use with OpenAI's 404 model_not_found, queuing nothing", async () => {
    const limited = await createKey({ name: "limited", models: ["gpt-4o-mini"] });
    expect(await ask(sdk(limited.key), "allowed model")).toMatchObject({ content: "echo: allowed model" });
    const lines = (await stack.emulatorStats()).linesSubmitted;
    const refused = await apiError(sdk(limited.key).chat.completions.create(chat("other model", "gpt-4o")));
    expect(refused.status).toBe(404);
    expect(refused.code).toBe("model_not_found");
    const random = await apiError(sdk(limited.key).chat.completions.create(chat("x", "made-up-model-1234")));
    expect(random.status).toBe(404);
    expect((await stack.emulatorStats()).linesSubmitted).toBe(lines);
  });
});

describe("quotas", () => {
  it("holds a key to its requests per minute across two gateways (429 with retry-after)", async () => {
    const key = await createKey({ name: "rate-limited", rpm: 3 });
    await eventually(() => http("/v1/models", key.key, {}, 1).then((r) => r.status !== 401), 10_000);
    // Cache hits: the bucket counts every request, answered from cache or not.
    await ask(sdk(key.key, 0), "rated");
    await ask(sdk(key.key, 1), "rated");
    await ask(sdk(key.key, 0), "rated");
    const refused = await apiError(sdk(key.key, 1).chat.completions.create(chat("rated")));
    expect(refused.status).toBe(429);
    expect(refused.code).toBe("rate_limit_exceeded");
    expect(Number(refused.headers?.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("holds a key to its pending requests: a held caller counts until it is answered", async () => {
    const key = await createKey({ name: "one-at-a-time", max_pending: 1 });
    await eventually(() => http("/v1/models", key.key, {}, 1).then((r) => r.status !== 401), 10_000);
    const redis = createRedis(stack.env.REDIS_URL!, "client");
    try {
      const held = ask(sdk(key.key, 0), "pending one");
      await eventually(
        async () => (await redis.zcard(`${stack.env.BULL_PREFIX}:quota:{${key.id}}:pending`)) === 1,
      );
      const refused = await apiError(sdk(key.key, 1).chat.completions.create(chat("pending two")));
      expect(refused.status).toBe(429);
      expect(refused.code).toBe("too_many_pending_requests");
      expect(await held).toMatchObject({ content: "echo: pending one" });
      expect(await ask(sdk(key.key, 1), "pending three")).toMatchObject({ content: "echo: pending three" });
    } finally {
      redis.disconnect();
    }
  });

  it("holds a cache hit to the key's pending limit too, though a hit itself takes no place", async () => {
    const key = await createKey({ name: "hits-pending", max_pending: 1 });
    await eventually(() => http("/v1/models", key.key, {}, 1).then((r) => r.status !== 401), 10_000);
    const pending = `${stack.env.BULL_PREFIX}:quota:{${key.id}}:pending`;
    const redis = createRedis(stack.env.REDIS_URL!, "client");
    try {
      expect(await ask(sdk(key.key, 0), "hit me")).toMatchObject({ cache: "miss" });
      expect(await ask(sdk(key.key, 1), "hit me")).toEqual({ content: "echo: hit me", cache: "hit" });
      expect(await redis.zcard(pending)).toBe(0);
      const held = ask(sdk(key.key, 0), "hold the place");
      await eventually(async () => (await redis.zcard(pending)) === 1);
      const refused = await apiError(sdk(key.key, 1).chat.completions.create(chat("hit me")));
      expect(refused.status).toBe(429);
      expect(refused.code).toBe("too_many_pending_requests");
      await held;
      expect(await ask(sdk(key.key, 1), "hit me")).toMatchObject({ cache: "hit" });
    } finally {
      redis.disconnect();
    }
  });

  it("counts an async request as pending until its answer is fetched", async () => {
    const key = await createKey({ name: "async-pending", max_pending: 1 });
    await eventually(() => http("/v1/models", key.key, {}, 1).then((r) => r.status !== 401), 10_000);
    const async = (content: string) =>
      sdk(key.key).post<{ id: string }>("/chat/completions", {
        body: chat(content),
        headers: { "x-batch-mode": "async" },
      });
    const first = await async("async one");
    expect((await apiError(async("async two"))).status).toBe(429);
    await eventually(async () => (await http(`/v1/chat/completions/${first.id}`, key.key)).status === 200);
    expect((await async("async three")).id).toMatch(/^chatcmpl/);
  });
});
