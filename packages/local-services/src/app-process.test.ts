import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { APP_NODE_FLAGS, spawnNodeApp } from "./app-process.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

describe("APP_NODE_FLAGS", () => {
  it("reach the app's Node when it is spawned", async () => {
    const dir = await mkdtemp(join(tmpdir(), "app-flags-"));
    const script = join(dir, "flags.mjs");
    writeFileSync(script, "console.log(JSON.stringify(process.execArgv));\n");
    const lines: string[] = [];
    const app = spawnNodeApp({
      name: "flags",
      script,
      env: { PATH: process.env.PATH },
      onLine: (l) => lines.push(l),
    });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(lines[0]!)).toEqual([...APP_NODE_FLAGS]);
  });

  it("are the ones the Docker image and `pnpm start:*` give the apps", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const nodeOptions = /^ENV NODE_OPTIONS=(.*)$/m.exec(dockerfile)?.[1]?.replace(/"/g, "").split(/\s+/);
    expect(nodeOptions).toEqual([...APP_NODE_FLAGS]);
    const runScript = readFileSync(join(ROOT, "scripts/run.sh"), "utf8");
    expect(runScript).toContain(`exec node ${APP_NODE_FLAGS.join(" ")} "apps/$name/src/main.ts"`);
  });
});
