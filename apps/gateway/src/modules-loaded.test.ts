import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");

/** The packages (under node_modules) an app's entry point loads at start, as a hook records them. */
async function packagesLoadedAtStart(app: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "modules-loaded-"));
  const probe = join(dir, "probe.mjs");
  await writeFile(
    probe,
    `import { registerHooks } from "node:module";
const packages = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    // The package's folder: after the last node_modules/ of its real path (pnpm's store nests them).
    const at = result.url.lastIndexOf("/node_modules/");
    const match = at < 0 ? null : /^((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url.slice(at + 14));
    if (match) packages.add(match[1]);
    return result;
  },
});
process.on("exit", () => console.log(JSON.stringify([...packages].sort())));
`,
  );
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", probe, join(ROOT, "apps", app, "src", "main.ts")],
    { env: { PATH: process.env.PATH, BATCH_GPT_LOAD_ONLY: "1" }, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

describe("modules a process loads at start", () => {
  it("the gateway leaves the OpenAI SDK until it calls the provider (memory it would hold for nothing)", async () => {
    const gateway = await packagesLoadedAtStart("gateway");
    // The probe sees the packages: the gateway's own libraries are there.
    expect(gateway).toEqual(expect.arrayContaining(["bullmq", "hono", "ioredis", "mongodb"]));
    expect(gateway).not.toContain("openai");
  }, 60_000);
});
