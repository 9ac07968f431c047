import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { APP_NODE_FLAGS, COMPILE_CACHE_DIR, spawnNodeApp } from "./app-process.ts";

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

describe("the compile cache", () => {
  it("is where spawnNodeApp starts an app, unless its environment names another", async () => {
    const dir = await mkdtemp(join(tmpdir(), "app-cache-"));
    const script = join(dir, "cache.mjs");
    writeFileSync(script, "console.log(JSON.stringify(process.env.NODE_COMPILE_CACHE ?? null));\n");
    const cacheOf = async (env: NodeJS.ProcessEnv) => {
      const lines: string[] = [];
      const app = spawnNodeApp({ name: "poller", script, env, onLine: (l) => lines.push(l) });
      expect(await app.exited).toEqual({ code: 0, signal: null });
      return JSON.parse(lines[0]!);
    };
    expect(await cacheOf({ PATH: process.env.PATH })).toBe(COMPILE_CACHE_DIR);
    expect(await cacheOf({ PATH: process.env.PATH, NODE_COMPILE_CACHE: dir })).toBe(dir);
  });

  it.each(["gateway", "collator", "poller", "openai-emulator"])(
    "is filled by the %s's entry point with BATCH_GPT_LOAD_ONLY=1, so its next start never loads Node's TypeScript compiler",
    async (app) => {
      const dir = await mkdtemp(join(tmpdir(), "app-load-only-"));
      // Reports, as the process exits, whether Node loaded its TypeScript compiler (amaro).
      const probe = join(dir, "probe.mjs");
      writeFileSync(
        probe,
        "process.on('exit', () => console.log(JSON.stringify({ compiler: process.moduleLoadList.some((m) => m.includes('amaro')) })));\n",
      );
      // No setting at all: without BATCH_GPT_LOAD_ONLY each app would exit 2 on its settings check.
      const env = {
        PATH: process.env.PATH,
        BATCH_GPT_LOAD_ONLY: "1",
        NODE_COMPILE_CACHE: join(dir, "cache"),
      };
      const load = async () => {
        const { stdout } = await promisify(execFile)(
          process.execPath,
          ["--import", probe, join(ROOT, "apps", app, "src", "main.ts")],
          { env, timeout: 60_000 },
        );
        return JSON.parse(stdout.trim().split("\n").at(-1)!);
      };
      expect(await load()).toEqual({ compiler: true });
      expect(await load()).toEqual({ compiler: false });
    },
    120_000,
  );

  it("is set by the Docker image, filled at its build, and by `pnpm start:*`", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^ENV NODE_COMPILE_CACHE=\S+$/m);
    expect(dockerfile).toContain('BATCH_GPT_LOAD_ONLY=1 node "apps/$app/src/main.ts"');
    for (const app of ["gateway", "collator", "poller", "openai-emulator"]) {
      expect(/^RUN for app in (.*); do/m.exec(dockerfile)?.[1]?.split(" ")).toContain(app);
    }
    const runScript = readFileSync(join(ROOT, "scripts/run.sh"), "utf8");
    expect(runScript).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
      'export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE-$PWD/.data/node-compile-cache}"',
    );
    expect(resolve(ROOT, ".data/node-compile-cache")).toBe(COMPILE_CACHE_DIR);
  });
});
