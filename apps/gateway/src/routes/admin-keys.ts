import { ApiError, type ApiKeyDoc, invalidRequest } from "@batch-gpt/contracts";
import { Hono } from "hono";
import { z } from "zod";
import { hashKey, newGatewayKey, newKeyId } from "../auth/key-ring.ts";
import type { GatewayDeps, GatewayEnv } from "../deps.ts";

const createSchema = z.strictObject({
  /** The tenant: keys with one name share its requests, calls and cache. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-' (up to 64)"),
  admin: z.boolean().default(false),
  models: z.array(z.string().min(1).max(256)).max(1000).optional(),
  rpm: z.number().int().positive().optional(),
  max_pending: z.number().int().positive().optional(),
});

const KEY_ID = /^key_[0-9a-f]{16}$/;

/**
 * The operator API for gateway keys (admin only, as every /admin route): create (the key is in the
 * answer, once), list, revoke. Every change bumps Redis's keys version, so every gateway reloads.
 */
export function adminKeyRoutes(deps: Pick<GatewayDeps, "store" | "keyRing">): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { store, keyRing } = deps;

  app.post("/keys", async (c) => {
    const parsed = createSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalidRequest(`Invalid key request: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
    }
    const { name, admin, models, rpm, max_pending } = parsed.data;
    const key = newGatewayKey();
    const doc: ApiKeyDoc = {
      _id: newKeyId(),
      hash: hashKey(key).toString("hex"),
      tenant: name,
      role: admin ? "admin" : "client",
      ...(models ? { models } : {}),
      ...(rpm ? { rpm } : {}),
      ...(max_pending ? { maxPending: max_pending } : {}),
      hint: key.slice(-4),
      createdAt: new Date(),
    };
    await store.apiKeys.insert(doc);
    await keyRing.changed();
    return c.json({ ...keyObject(doc), key }, 201);
  });

  app.get("/keys", async (c) => {
    const keys = await store.apiKeys.list();
    return c.json({ object: "list", data: keys.map(keyObject) });
  });

  app.delete("/keys/:id", async (c) => {
    const id = c.req.param("id");
    if (!KEY_ID.test(id)) throw keyNotFound(id);
    const revoked = await store.apiKeys.revoke(id, new Date());
    if (!revoked) throw keyNotFound(id);
    await keyRing.changed();
    return c.json(keyObject(revoked));
  });

  return app;
}

/** A key as operators see it: never its hash. */
function keyObject(doc: ApiKeyDoc) {
  return {
    id: doc._id,
    object: "gateway.key",
    name: doc.tenant,
    role: doc.role,
    models: doc.models ?? null,
    rpm: doc.rpm ?? null,
    max_pending: doc.maxPending ?? null,
    hint: `…${doc.hint}`,
    created_at: Math.floor(doc.createdAt.getTime() / 1000),
    revoked_at: doc.revokedAt ? Math.floor(doc.revokedAt.getTime() / 1000) : null,
  };
}

const keyNotFound = (id: string) =>
  new ApiError(404, `No key with id '${id.slice(0, 64)}'.`, { code: "key_not_found" });
