import { randomBytes } from "node:crypto";

/**
 * Random bytes are drawn 4 KiB at a time and handed out in order, each byte once: a `randomBytes` call
 * per id (two per async request on the gateway) cost more than the id. Same CSPRNG, same ids.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

function token(bytes: number): string {
  if (used + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    used = 0;
  }
  const text = pool.toString("hex", used, used + bytes);
  used += bytes;
  return text;
}

/**
 * A request's id: the BullMQ job id of its first attempt and the `custom_id` of its batch line.
 * Never contains ':' and is never all digits (BullMQ reserves both).
 */
export const newRequestId = () => `req_${token(12)}`;
/** Our batch record id, carried in the provider batch's metadata and in the uploaded file's name. */
export const newBatchRecordId = () => `bgb_${token(10)}`;
export const newCallId = (prefix: string) => `${prefix}${token(12)}`;

/**
 * An id as it may arrive in a path or a query string: letters, digits, `_`, `-` and `.` only (every
 * id we or OpenAI make), 1 to 128 characters. Anything else is answered as unknown without a lookup,
 * so no operator shape, traversal or oversized key ever reaches Redis or MongoDB.
 */
export const isPlainId = (id: string | undefined): id is string =>
  id !== undefined && /^[A-Za-z0-9_.-]{1,128}$/.test(id) && !id.includes("..");
