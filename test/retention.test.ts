import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { eventually, type Stack, startStack } from "@batch-gpt/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Retention and erasure through the whole stack. Windows are whole days, so the test makes data old by
// writing old dates into the store, then lets the poller's sweep (every 300 ms here) find it.

const DAY = 24 * 3600 * 1000;
const ago = (ms: number) => new Date(Date.now() - ms);
const CLI = resolve(import.meta.dirname, "../apps/cli/src/main.ts");
const ADMIN = "sk-retention-admin-0000";

let sweeping: Stack;
let erasing: Stack;
beforeAll(async () => {
  [sweeping, erasing] = await Promise.all([
    startStack({
      env: {
        RETAIN_REQUEST_BODIES_DAYS: "1",
        RETAIN_ANSWERS_DAYS: "3",
        RETAIN_BATCHES_DAYS: "1",
        RETAIN_CALLS_DAYS: "5",
        CACHE_TTL_SECONDS: "3600",
        RETENTION_SWEEP_INTERVAL_MS: "1500",
      },
    }),
    startStack({ env: { GATEWAY_ADMIN_KEYS: ADMIN, HOST: "127.0.0.1", KEYS_REFRESH_MS: "200" } }),
  ]);
});
afterAll(async () => {
  await sweeping?.control("faults", undefined, "DELETE").catch(() => {});
  await Promise.all([sweeping?.close(), erasing?.close()]);
});

const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content }] });

function post(on: Stack, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${on.gateways[0]!.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** A sync call: its status, cache header and answer text. */
async function ask(on: Stack, content: string, auth: Record<string, string> = {}) {
  const response = await post(on, "/v1/chat/completions", chat(content), auth);
  const json = (await response.json()) as { choices?: { message: { content: string } }[] };
  return {
    status: response.status,
    cache: response.headers.get("x-batch-cache"),
    content: json.choices?.[0]?.message.content,
  };
}

/** An async call, answered: its call id and request id. */
async function answeredCall(on: Stack, content: string, auth: Record<string, string> = {}) {
  const accepted = await post(on, "/v1/chat/completions", chat(content), {
    "x-batch-mode": "async",
    ...auth,
  });
  expect(accepted.status).toBe(202);
  const { id } = (await accepted.json()) as { id: string };
  await eventually(async () => (await fetchCall(on, id, auth)).status === 200, 30_000, `${content} answered`);
  const call = await eventually(
    async () => (await on.store.calls.get(id)) ?? undefined,
    10_000,
    "the call in MongoDB",
  );
  return { callId: id, requestId: call.requestId };
}

const fetchCall = (on: Stack, id: string, auth: Record<string, string> = {}) =>
  fetch(`${on.gateways[0]!.url}/v1/requests/${id}`, { headers: auth });

async function errorOf(response: Response) {
  const { error } = (await response.json()) as { error: { code: string | null } };
  return { status: response.status, code: error.code };
}

const bodyOf = async (on: Stack, requestId: string) =>
  (await on.store.mongo.collections.requests.findOne({ _id: requestId }))?.body;

describe("the retention sweep", () => {
  it("applies each window to finished requests and done batches, and leaves unfinished ones alone", async () => {
    const c = sweeping.store.mongo.collections;
    const old = await answeredCall(sweeping, "four days ago");
    const recent = await answeredCall(sweeping, "two days ago");
    expect((await ask(sweeping, "four days ago")).cache).toBe("hit");

    // A request that cannot finish while the provider's status checks hang: its batch stays submitted.
    await sweeping.control("faults", { target: "batches.retrieve", delayMs: 600_000, times: 1000 });
    const accepted = await post(sweeping, "/v1/chat/completions", chat("still running"), {
      "x-batch-mode": "async",
    });
    const { id: openCall } = (await accepted.json()) as { id: string };
    const open = await eventually(
      async () => (await sweeping.store.calls.get(openCall)) ?? undefined,
      10_000,
      "the open call",
    );
    await eventually(
      async () => (await sweeping.store.requests.get(open.requestId))?.state === "submitted",
      30_000,
      "the open request submitted",
    );

    // Everything is made old; each window decides what goes.
    await c.answers.updateOne({ _id: old.requestId }, { $set: { at: ago(4 * DAY) } });
    await c.answers.updateOne({ _id: recent.requestId }, { $set: { at: ago(2 * DAY) } });
    await c.batches.updateMany({}, { $set: { updatedAt: ago(6 * DAY), createdAt: ago(6 * DAY) } });
    await c.calls.updateMany({ _id: { $in: [old.callId, openCall] } }, { $set: { createdAt: ago(4 * DAY) } });
    await c.calls.updateOne({ _id: recent.callId }, { $set: { createdAt: ago(6 * DAY) } });
    await c.calls.updateOne({ _id: openCall }, { $set: { createdAt: ago(6 * DAY) } });
    await c.requests.updateOne({ _id: open.requestId }, { $set: { createdAt: ago(6 * DAY) } });
    await c.cache.updateMany({}, { $set: { createdAt: ago(2 * 3600 * 1000) } });

    const records = async () => c.batches.find({}, { projection: { _id: 1, state: 1 } }).toArray();
    await eventually(
      async () =>
        (await bodyOf(sweeping, old.requestId)) === "" &&
        (await bodyOf(sweeping, recent.requestId)) === "" &&
        (await sweeping.store.requests.outcome(old.requestId))?.answer.statusCode === 404 &&
        (await sweeping.store.calls.get(recent.callId)) === null &&
        (await c.cache.countDocuments({})) === 0 &&
        (await records()).every((r) => r.state !== "done"),
      30_000,
      "the sweep",
    );

    // Answers: the four-day-old one expired (3 days), through Redis too; the two-day-old one kept.
    expect(await errorOf(await fetchCall(sweeping, old.callId))).toEqual({
      status: 404,
      code: "answer_expired",
    });
    expect((await sweeping.store.requests.outcome(recent.requestId))?.answer.statusCode).toBe(200);
    // Calls: the six-day-old one deleted (5 days), in Redis too; the four-day-old one kept.
    expect((await fetchCall(sweeping, recent.callId)).status).toBe(404);
    // Batch records: only the active one is left.
    expect((await records()).map((r) => r.state)).toEqual(["submitted"]);

    // The unfinished request keeps its body, its call and its record...
    expect(await bodyOf(sweeping, open.requestId)).toContain("still running");
    expect(await sweeping.store.calls.get(openCall)).not.toBeNull();
    expect((await fetchCall(sweeping, openCall)).status).toBe(202);
    // An operator cannot erase it either while it runs (its body is still to be sent).
    const refused = await post(sweeping, `/admin/api/requests/${openCall}/erase`, {});
    expect(await errorOf(refused)).toEqual({ status: 409, code: "request_unfinished" });
    expect(await bodyOf(sweeping, open.requestId)).toContain("still running");
    // ...and is answered once the provider answers again.
    await sweeping.control("faults", undefined, "DELETE");
    await eventually(
      async () => (await fetchCall(sweeping, openCall)).status === 200,
      60_000,
      "the open answer",
    );

    // The expired cache entry (and its Redis copies) are gone: the same question is asked again.
    const lines = (await sweeping.emulatorStats()).linesSubmitted;
    expect(await ask(sweeping, "four days ago")).toMatchObject({ status: 200, cache: "miss" });
    expect((await sweeping.emulatorStats()).linesSubmitted).toBe(lines + 1);
  }, 120_000); // its waits add up on a loaded machine (about 4 s alone)
});

describe("erasure", () => {
  const admin = { authorization: `Bearer ${ADMIN}` };
  let teamE: Record<string, string>;
  let teamF: Record<string, string>;

  beforeAll(async () => {
    const make = async (name: string) => {
      const made = await post(erasing, "/admin/api/keys", { name }, admin);
      expect(made.status).toBe(201);
      return { authorization: `Bearer ${((await made.json()) as { key: string }).key}` };
    };
    [teamE, teamF] = await Promise.all([make("team-e"), make("team-f")]);
    await eventually(async () => (await ask(erasing, "key check", teamE)).status === 200, 30_000, "the keys");
  });

  function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [CLI, ...args],
        { env: { ...process.env, BATCH_GPT_URL: erasing.gateways[0]!.url, BATCH_GPT_ADMIN_KEY: ADMIN } },
        (error, stdout, stderr) => {
          const code = error ? ((error as { code?: number }).code ?? 1) : 0;
          done({ code: typeof code === "number" ? code : 1, stdout, stderr });
        },
      );
    });
  }

  it("erases one request over HTTP: its answer, its body and its cache entry, in Redis too", async () => {
    const { callId, requestId } = await answeredCall(erasing, "erase me", teamE);
    expect(await ask(erasing, "erase me", teamE)).toMatchObject({ status: 200, cache: "hit" });

    const erased = await post(erasing, `/admin/api/requests/${callId}/erase`, {}, admin);
    expect(erased.status).toBe(200);
    expect(await erased.json()).toEqual({
      object: "erasure",
      request: requestId,
      tenant: null,
      requests: 1,
      pending: 0,
      cacheEntries: 1,
      calls: 0,
    });
    expect(await bodyOf(erasing, requestId)).toBe("");
    expect(await errorOf(await fetchCall(erasing, callId, teamE))).toEqual({
      status: 404,
      code: "answer_erased",
    });

    // The same question again is not answered from what was erased: it goes to the provider.
    const lines = (await erasing.emulatorStats()).linesSubmitted;
    expect(await ask(erasing, "erase me", teamE)).toMatchObject({ status: 200, cache: "miss" });
    expect((await erasing.emulatorStats()).linesSubmitted).toBe(lines + 1);
  });

  it("refuses what it cannot erase with OpenAI's errors, and only for admins", async () => {
    expect((await post(erasing, "/admin/api/requests/req_unknown000/erase", {}, admin)).status).toBe(404);
    expect((await post(erasing, "/admin/api/requests/a%24b/erase", {}, admin)).status).toBe(404);
    expect((await post(erasing, "/admin/api/tenants/a%24b/erase", {}, admin)).status).toBe(400);
    expect((await post(erasing, "/admin/api/tenants/team-e/erase", {}, teamE)).status).toBe(403);
  });

  it("erases one request and a whole tenant with the CLI, leaving other tenants alone", async () => {
    const one = await answeredCall(erasing, "cli erases me", teamE);
    const byCli = await cli(["erase", "--request", one.requestId]);
    expect(byCli.code, byCli.stderr).toBe(0);
    expect(byCli.stdout).toContain(`erased request ${one.requestId}: 1 request`);
    expect(await bodyOf(erasing, one.requestId)).toBe("");

    const f1 = await answeredCall(erasing, "tenant f, first", teamF);
    expect(await ask(erasing, "tenant f, second", teamF)).toMatchObject({ status: 200, cache: "miss" });
    const kept = await answeredCall(erasing, "tenant e keeps this", teamE);
    expect(await ask(erasing, "tenant f, second", teamF)).toMatchObject({ cache: "hit" });

    const tenant = await cli(["erase", "--tenant", "team-f", "--json"]);
    expect(tenant.code, tenant.stderr).toBe(0);
    expect(JSON.parse(tenant.stdout)).toMatchObject({ tenant: "team-f", requests: 2, pending: 0, calls: 1 });
    expect(await bodyOf(erasing, f1.requestId)).toBe("");
    // Its async call is gone, and its cached answers with it.
    expect((await fetchCall(erasing, f1.callId, teamF)).status).toBe(404);
    expect(await ask(erasing, "tenant f, second", teamF)).toMatchObject({ status: 200, cache: "miss" });
    // Team e's data is untouched.
    expect(await bodyOf(erasing, kept.requestId)).toContain("tenant e keeps this");
    expect((await fetchCall(erasing, kept.callId, teamE)).status).toBe(200);
    expect(await ask(erasing, "tenant e keeps this", teamE)).toMatchObject({ cache: "hit" });

    expect((await cli(["erase"])).code).toBe(2);
    expect((await cli(["erase", "--request", "x", "--tenant", "y"])).code).toBe(2);
  });
});
