import { createHash } from "node:crypto";

/** Default vector length when the request has no `dimensions`. */
export const DEFAULT_DIMENSIONS = 8;

/** The key an input is hashed by: the string itself, or `tokens:` + JSON of a token array. */
export function embeddingKey(input: string | number[]): string {
  return typeof input === "string" ? input : `tokens:${JSON.stringify(input)}`;
}

/**
 * A deterministic unit vector (float32 values) for an input: sha256(`${key}#${block}`) gives 8 uint32 per
 * block, each mapped to [-1, 1), then the vector is L2-normalised and rounded to float32.
 */
export function embeddingVector(input: string | number[], dimensions: number = DEFAULT_DIMENSIONS): number[] {
  const key = embeddingKey(input);
  const raw: number[] = [];
  for (let block = 0; raw.length < dimensions; block++) {
    const digest = createHash("sha256").update(`${key}#${block}`).digest();
    for (let i = 0; i < 8 && raw.length < dimensions; i++) {
      raw.push((digest.readUInt32LE(i * 4) / 2 ** 32) * 2 - 1);
    }
  }
  const norm = Math.sqrt(raw.reduce((s, v) => s + v * v, 0)) || 1;
  return raw.map((v) => Math.fround(v / norm));
}

/** Little-endian float32 bytes, base64-encoded: OpenAI's `encoding_format: "base64"`. */
export function toBase64(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => {
    buf.writeFloatLE(v, i * 4);
  });
  return buf.toString("base64");
}

export function fromBase64(b64: string): number[] {
  const buf = Buffer.from(b64, "base64");
  const out: number[] = [];
  for (let i = 0; i + 4 <= buf.length; i += 4) out.push(buf.readFloatLE(i));
  return out;
}
