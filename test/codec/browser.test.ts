/**
 * The codec facade in headless Chromium: a Bun browser bundle of `browser-page.ts` (which
 * imports wasm/mod.ts) is served from http://127.0.0.1:<port> (a secure context, so WebCrypto
 * exists) and driven with playwright-core and the system Chromium.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let server: ReturnType<typeof Bun.serve> | undefined;
let browser: Browser | undefined;
let bundle = "";

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "browser-page.ts")], target: "browser", format: "esm" });
  if (!built.success) throw new Error(`browser bundle failed: ${built.logs.map(String).join("\n")}`);
  bundle = await built.outputs[0]!.text();
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/codec.js") return new Response(bundle, { headers: { "content-type": "text/javascript" } });
      if (path === "/") {
        const html = '<!doctype html><meta charset="utf-8"><title>codec</title><script type="module" src="/codec.js"></script>';
        return new Response(html, { headers: { "content-type": "text/html" } });
      }
      return new Response("not found", { status: 404 });
    },
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.stop(true);
});

test("the browser bundle has no node: imports", () => {
  expect(bundle).not.toMatch(/from\s*["']node:/);
  expect(bundle).not.toMatch(/require\(["']node:/);
});

test("Chromium round-trips compression and encryption, cross-checked with WebCrypto", async () => {
  expect(existsSync(CHROMIUM)).toBe(true);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(`http://127.0.0.1:${server!.port}/`, { timeout: 30_000 });
  await page.waitForFunction(() => (globalThis as { __codecResult?: unknown }).__codecResult !== undefined, undefined, {
    timeout: 30_000,
  });
  const result = await page.evaluate(() => (globalThis as { __codecResult?: unknown }).__codecResult);
  expect(errors).toEqual([]);
  expect(result).toMatchObject({ ok: true });
  expect((result as { checks: string[] }).checks.length).toBe(13);
}, 90_000);
