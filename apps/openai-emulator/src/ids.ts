import { randomBytes } from "node:crypto";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Random [A-Za-z0-9] string, like the suffixes of OpenAI's `file-…` ids. */
export function alnum(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

export function hex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

export const newId = {
  file: () => `file-${alnum(22)}`,
  batch: () => `batch_${hex(16)}`,
  batchRequest: () => `batch_req_${hex(16)}`,
  request: () => `req_${hex(16)}`,
  chat: () => `chatcmpl-${alnum(29)}`,
  completion: () => `cmpl-${alnum(29)}`,
  response: () => `resp_${hex(24)}`,
  message: () => `msg_${hex(24)}`,
};

export function nowSeconds(ms: number = Date.now()): number {
  return Math.floor(ms / 1000);
}
