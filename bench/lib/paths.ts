import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const BENCH = resolve(ROOT, "bench");
export const child = (name: string) => resolve(BENCH, "children", `${name}.ts`);
export const app = (name: string) => resolve(ROOT, "apps", name, "src", "main.ts");
