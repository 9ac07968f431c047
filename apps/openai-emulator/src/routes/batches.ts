/** Batches API: create (with OpenAI's 400s), retrieve, cancel (409 once finished), list (newest first). */
import { Hono } from "hono";
import { ENDPOINTS, isEndpoint } from "../answers.ts";
import { type Deps, intQuery, listPage, readJsonObject } from "../deps.ts";
import { invalidRequest, missingParameter } from "../errors.ts";

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a number";
  if (typeof v === "object") return "an object";
  if (typeof v === "boolean") return "a boolean";
  return `a ${typeof v}`;
}

/** Validates `metadata` as OpenAI does: at most 16 pairs, keys ≤ 64 chars, string values ≤ 512 chars. */
export function validateMetadata(metadata: unknown): Record<string, string> | null {
  if (metadata === undefined || metadata === null) return null;
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    throw invalidRequest(
      `Invalid type for 'metadata': expected a metadata object, but got ${typeName(metadata)} instead.`,
      "metadata",
      "invalid_type",
    );
  }
  const entries = Object.entries(metadata);
  if (entries.length > 16) {
    throw invalidRequest(
      `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${entries.length} properties instead.`,
      "metadata",
      "object_above_max_properties",
    );
  }
  for (const [key, value] of entries) {
    if (key.length > 64) {
      throw invalidRequest(
        `Invalid property name in 'metadata': '${key}' is too long. Expected a string with maximum length 64, but got a string with length ${key.length} instead.`,
        `metadata.${key}`,
        "property_name_above_max_length",
      );
    }
    if (typeof value !== "string") {
      throw invalidRequest(
        `Invalid type for 'metadata.${key}': expected a string, but got ${typeName(value)} instead.`,
        `metadata.${key}`,
        "invalid_type",
      );
    }
    if (value.length > 512) {
      throw invalidRequest(
        `Invalid 'metadata.${key}': string too long. Expected a string with maximum length 512, but got a string with length ${value.length} instead.`,
        `metadata.${key}`,
        "string_above_max_length",
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

const SUPPORTED_ENDPOINTS = `${ENDPOINTS.slice(0, -1)
  .map((e) => `'${e}'`)
  .join(", ")}, and '${ENDPOINTS[ENDPOINTS.length - 1]}'`;

export function batchesRouter(deps: Deps): Hono {
  const { state, engine, faults } = deps;
  const app = new Hono();

  app.post("/", async (c) => {
    const fault = await faults.apply("batches.create");
    const body = await readJsonObject(c);
    for (const p of ["input_file_id", "endpoint", "completion_window"]) {
      if (body[p] === undefined || body[p] === null) throw missingParameter(p);
    }
    const { input_file_id: inputFileId, endpoint, completion_window: window } = body;
    if (!isEndpoint(endpoint)) {
      throw invalidRequest(
        `Invalid value: '${String(endpoint)}'. Supported values are: ${SUPPORTED_ENDPOINTS}.`,
        "endpoint",
        "invalid_value",
      );
    }
    if (window !== "24h") {
      throw invalidRequest(
        `Invalid value: '${String(window)}'. Supported values are: '24h'.`,
        "completion_window",
        "invalid_value",
      );
    }
    const metadata = validateMetadata(body.metadata);
    const file = typeof inputFileId === "string" ? state.files.get(inputFileId) : undefined;
    if (!file) {
      throw invalidRequest(
        `Cannot find file ${String(inputFileId)}, or organization org-emulator does not have access to it.`,
        "file_id",
      );
    }
    if (file.purpose !== "batch") {
      throw invalidRequest(
        `The input file ${file.id} has purpose '${file.purpose}', but only files with purpose 'batch' can be used as batch input.`,
        "input_file_id",
      );
    }
    const batch = await engine.create({ inputFileId: file.id, endpoint, metadata });
    if (fault?.after) await faults.inflict(fault);
    return c.json(batch);
  });

  app.get("/", async (c) => {
    await faults.apply("batches.list");
    const limit = intQuery(c.req.query("limit"), "limit", 20, 1, 100);
    let batches = await engine.list();
    const after = c.req.query("after");
    if (after) {
      const i = batches.findIndex((b) => b.id === after);
      batches = i < 0 ? [] : batches.slice(i + 1);
    }
    return c.json(listPage(batches.slice(0, limit), batches.length > limit));
  });

  app.get("/:id", async (c) => {
    await faults.apply("batches.retrieve");
    return c.json(await engine.get(c.req.param("id")));
  });

  app.post("/:id/cancel", async (c) => {
    await faults.apply("batches.cancel");
    return c.json(await engine.cancel(c.req.param("id")));
  });

  return app;
}
