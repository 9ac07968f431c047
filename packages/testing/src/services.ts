import { randomBytes } from "node:crypto";
import { openStore, type Store } from "@batch-gpt/store";
import { inject } from "vitest";

/** Addresses of the servers the global setup started (or that REDIS_URL / MONGODB_URI named). */
export const services = () => ({ redisUrl: inject("redisUrl"), mongoUri: inject("mongoUri") });

/** A name no other test file uses: one database and one queue prefix per test file. */
export const uniqueName = (label: string) => `t_${label}_${randomBytes(4).toString("hex")}`;

/** A store on a database of its own; drop it when done. */
export async function openTestStore(
  label: string,
): Promise<Store & { dbName: string; drop(): Promise<void> }> {
  const dbName = uniqueName(label);
  const store = await openStore(services().mongoUri, dbName);
  return {
    ...store,
    dbName,
    async drop() {
      await store.mongo.db.dropDatabase().catch(() => {});
      await store.close();
    },
  };
}
