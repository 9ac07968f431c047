import type { Context } from "hono";
import type { BatchEngine } from "./batch-engine.ts";
import { invalidJsonBody, invalidRequest } from "./errors.ts";
import type { Faults } from "./faults.ts";
import type { EmulatorState } from "./state.ts";

/** What every router is built from (the composition root is `createEmulatorApp`). */
export interface Deps {
  state: EmulatorState;
  engine: BatchEngine;
  faults: Faults;
  /** Largest accepted upload, bytes. */
  maxUploadBytes: number;
}

/** The request's JSON body as an object, or OpenAI's 400 for an unparseable one. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidJsonBody();
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalidRequest("The request body must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

/** A list page in OpenAI's cursor shape. */
export function listPage<T extends { id: string }>(data: T[], hasMore: boolean) {
  return {
    object: "list" as const,
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: hasMore,
  };
}

/** Parses an integer query parameter within [min, max], with OpenAI's messages. */
export function intQuery(
  value: string | undefined,
  name: string,
  def: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === "") return def;
  const n = Number(value);
  if (!Number.isInteger(n)) {
    throw invalidRequest(
      `Invalid type for '${name}': expected an integer, but got a string instead.`,
      name,
      "invalid_type",
    );
  }
  if (n < min) {
    throw invalidRequest(
      `Invalid '${name}': integer below minimum value. Expected a value >= ${min}, but got ${n} instead.`,
      name,
      "integer_below_min_value",
    );
  }
  if (n > max) {
    throw invalidRequest(
      `Invalid '${name}': integer above maximum value. Expected a value <= ${max}, but got ${n} instead.`,
      name,
      "integer_above_max_value",
    );
  }
  return n;
}
