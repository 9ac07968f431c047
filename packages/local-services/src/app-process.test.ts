import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { APP_NODE_FLAGS, spawnNodeApp } from "./app-process.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

describe("APP_NODE_FLAGS", () => {
  it.each(["gateway", "collator"])("reach the %s's Node when it is spawned", async (name) => {
    const dir = await mkdtemp(join(tmpdir(), "app-flags-"));
    const script = join(dir, "flags.mjs");
    writeFileSync(script, "console.log(JSON.stringify(process.execArgv));\n");
    const lines: string[] = [];
    const app = spawnNodeApp({
      name,
      script,
      env: { PATH: process.env.PATH },
      onLine: (l) => lines.push(l),
    });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    const expected = name === "gateway" ? APP_NODE_FLAGS.gateway : APP_NODE_FLAGS.worker;
    expect(JSON.parse(lines[0]!)).toEqual([...expected]);
  });

  it("are the ones the Docker image, docker-compose.yml and `pnpm start:*` give each app", () => {
    const options = (text: string | undefined) => text?.replace(/"/g, "").trim().split(/\s+/);
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    expect(options(/^ENV NODE_OPTIONS=(.*)$/m.exec(dockerfile)?.[1])).toEqual([...APP_NODE_FLAGS.worker]);
    const compose = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");
    const gateway = compose.slice(compose.indexOf("\n  gateway:"), compose.indexOf("\n  collator:"));
    expect(options(/^\s+NODE_OPTIONS: (.*)$/m.exec(gateway)?.[1])).toEqual([...APP_NODE_FLAGS.gateway]);
    const runScript = readFileSync(join(ROOT, "scripts/run.sh"), "utf8");
    expect(runScript).toContain(
      `if [ "$name" = gateway ]; then flags="${APP_NODE_FLAGS.gateway.join(" ")}"; else flags="${APP_NODE_FLAGS.worker.join(" ")}"; fi`,
    );
    expect(runScript).toContain('exec node $flags "apps/$name/src/main.ts"');
  });
});
