import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Stack, startStack } from "@batch-gpt/testing";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// With admin keys configured, a browser (which cannot send a bearer header) signs in to the dashboards
// with its admin key, in Debian's chromium driven by playwright-core.

const ADMIN = "sk-browser-admin-000000";
let stack: Stack;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  stack = await startStack({
    env: { HOST: "127.0.0.1", GATEWAY_ADMIN_KEYS: ADMIN, GATEWAY_API_KEYS: "sk-client-x" },
  });
  profile = mkdtempSync(join(tmpdir(), "batch-gpt-login-"));
  const executablePath =
    process.env.CHROMIUM_PATH ||
    execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await stack?.close();
});

describe("signing in to /admin in a browser", () => {
  it("asks for the admin key, refuses another, then shows the dashboard and the queue board", async () => {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const base = stack.gateways[0]!.url;
    await page.goto(`${base}/admin`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");

    await page.fill("#key", "sk-client-x");
    await page.click("button[type=submit]");
    await page.waitForURL(/\/admin\/login\?failed/);
    expect(await page.textContent("[role=alert]")).toContain("not an admin key");

    await page.fill("#key", ADMIN);
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/admin`);
    expect(await page.title()).toBe("batch-gpt · batches");
    // The page's own API calls ride on the cookie.
    const overview = await page.evaluate(async () => (await fetch("/admin/api/overview")).status);
    expect(overview).toBe(200);
    const board = await page.goto(`${base}/admin/queues`);
    expect(board?.status()).toBe(200);
    // The key itself is not readable by the page's scripts.
    expect(await page.evaluate("document.cookie")).toBe("");
  });
});
