/**
 * The client in headless Chromium (system `/usr/bin/chromium` via playwright-core): the browser
 * bundle on its own, IndexedDB offline-queue storage, and the demo page — it loads, connects with
 * encryption and compression on, shows events, and recovers after the server is restarted.
 * Screenshots go to `dist/screenshots/`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { buildBrowser } from "../../scripts/build-browser.ts";
import { mintToken, publish, ROOT, type ServerProcess, startServer } from "./support.ts";

const SHOTS = join(ROOT, "dist/screenshots");
/** Where the page loads the bundle from (the demo directory serves a copy). */
const BUNDLE_URL = "/demo/wse-client.js";
let browser: Browser;
let server: ServerProcess;
let token: string;

// The page is built from the current sources into a scratch directory (the committed
// client/demo/*.js stay untouched) and served with --demo-dir.
const BUILD = mkdtempSync(join(tmpdir(), "wse-browser-"));
const DEMO_ARGS = ["--demo-dir", join(BUILD, "demo")];

beforeAll(async () => {
  await buildBrowser({ outdir: BUILD, demoDir: join(BUILD, "demo") });
  mkdirSync(SHOTS, { recursive: true });
  token = await mintToken("browser-user");
  server = await startServer({ args: DEMO_ARGS });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.kill();
  rmSync(BUILD, { recursive: true, force: true });
});

async function openPage(path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${server.http}${path}`);
  return { page, errors };
}

describe("browser bundle", () => {
  test("dist/wse-client.js connects with encryption + zstd and receives events (token via ?token=)", async () => {
    const { page, errors } = await openPage("/demo/demo.css");
    const result = await page.evaluate(async ({ url, token, bundle }) => {
      const mod = await import(bundle);
      const client = await mod.connect(url, { token, topics: ["browser.bundle"], encryption: true, zstd: true });
      const ready = { state: client.state, encrypted: client.encrypted };
      (globalThis as Record<string, unknown>).__client = client;
      return ready;
    }, { url: server.url, token, bundle: BUNDLE_URL });
    expect(result).toEqual({ state: "ready", encrypted: true });
    const big = "z".repeat(3000);
    await publish(server, "browser.bundle", "hello", { n: 1, big });
    const event = await page.evaluate(async () => {
      const client = (globalThis as unknown as { __client: import("../../client/mod.ts").WSEClient }).__client;
      const e = await client.recv({ timeout: 5000 });
      const stats = client.getStats();
      await client.close();
      return { type: e.type, n: e.payload.n, len: (e.payload.big as string).length, topic: e.topic, offset: e.offset, encryption: stats.encryption.enabled, state: client.state };
    });
    expect(event).toEqual({ type: "hello", n: 1, len: 3000, topic: "browser.bundle", offset: 0, encryption: true, state: "closed" });
    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);

  test("IndexedDB offline queue survives a page reload and drains in priority order", async () => {
    const { page } = await openPage("/demo/demo.css");
    await page.evaluate(async (bundle) => {
      const mod = await import(bundle);
      const q = new mod.OfflineQueue({ storage: new mod.IndexedDBQueueStorage("wse-test-queue") });
      await q.restore();
      await q.clear();
      await q.enqueue({ type: "low", payload: { n: 1 }, priority: 1 });
      await q.enqueue({ type: "critical", payload: { n: 2 }, priority: 10 });
      await q.enqueue({ type: "normal", payload: { n: 3 }, priority: 5 });
    }, BUNDLE_URL);
    await page.reload();
    const drained = await page.evaluate(async (bundle) => {
      const mod = await import(bundle);
      const q = new mod.OfflineQueue({ storage: new mod.IndexedDBQueueStorage("wse-test-queue") });
      await q.restore();
      const out = (await q.drain()).map((m: { type: string }) => m.type);
      const again = new mod.OfflineQueue({ storage: new mod.IndexedDBQueueStorage("wse-test-queue") });
      await again.restore();
      return { out, left: again.size };
    }, BUNDLE_URL);
    expect(drained).toEqual({ out: ["critical", "normal", "low"], left: 0 });
    await page.close();
  }, 30_000);
});

// The page watches its own topic: demo mode's ticker publishes to demo.events every second.
describe("demo page", () => {
  test("loads, connects encrypted + compressed, shows events, chat and presence, recovers after a server restart", async () => {
    const { page, errors } = await openPage(`/demo/?topic=demo.test&token=${encodeURIComponent(token)}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="state"]')?.textContent === "ready", null, { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="encryption"]')?.textContent?.includes("AES-256-GCM"), null, { timeout: 5000 });
    expect(await page.getByTestId("compression").textContent()).toContain("zstd");
    for (let i = 1; i <= 6; i++) await publish(server, "demo.test", "price_update", { symbol: "WSE", price: 100 + i, n: i });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="event"]').length >= 6, null, { timeout: 10_000 });
    // Latency from the heartbeat.
    await page.waitForFunction(() => /ms$/.test(document.querySelector('[data-testid="latency"]')?.textContent ?? ""), null, { timeout: 10_000 });
    // Chat through client publish, presence shows this user.
    await page.getByTestId("chat-input").fill("hello from chromium");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector('[data-testid="chat"]')?.textContent?.includes("hello from chromium"), null, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="presence-count"]')?.textContent === "1 online", null, { timeout: 10_000 });
    await page.waitForTimeout(400); // let the row animations settle for the picture
    await page.screenshot({ path: join(SHOTS, "demo-connected.png") });

    // Kill the server mid-stream and bring it back on the same port (memory state lost).
    await server.kill("SIGKILL");
    await page.waitForFunction(() => document.querySelector('[data-testid="state"]')?.textContent !== "ready", null, { timeout: 10_000 });
    server = await startServer({ port: server.port, args: DEMO_ARGS });
    await page.waitForFunction(() => document.querySelector('[data-testid="state"]')?.textContent === "ready", null, { timeout: 20_000 });
    for (let i = 7; i <= 9; i++) await publish(server, "demo.test", "price_update", { symbol: "WSE", price: 100 + i, n: i });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="event"]').length >= 9, null, { timeout: 10_000 });
    expect(await page.getByTestId("discontinuity").count()).toBe(1);
    expect(await page.getByTestId("reconnects").textContent()).toBe("1");
    await page.waitForFunction(() => document.querySelector('[data-testid="encryption"]')?.textContent?.includes("AES-256-GCM"), null, { timeout: 5000 });
    const offsets = await page.$$eval('[data-testid="event"]', (rows) => rows.map((r) => r.getAttribute("data-offset")));
    // Newest first: 3 events of the new stream (offsets 2,1,0), then 6 of the old one (5…0); no duplicates.
    expect(offsets).toEqual(["2", "1", "0", "5", "4", "3", "2", "1", "0"]);
    // Both topics (events and chat) lost their history: two discontinuities, the chat shows a note.
    await page.waitForFunction(() => document.querySelector('[data-testid="recoveries"]')?.textContent === "0 / 2", null, { timeout: 5000 });
    expect(await page.getByTestId("chat-gap").count()).toBe(1);
    // "Drop & recover": the client drops its own socket; the server is up, so nothing is lost.
    await page.getByRole("button", { name: "Drop & recover" }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="recovery"]').length === 1, null, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="state"]')?.textContent === "ready", null, { timeout: 10_000 });
    await publish(server, "demo.test", "price_update", { symbol: "WSE", price: 110, n: 10 });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="event"]').length === 10, null, { timeout: 10_000 });
    await page.waitForTimeout(1200); // stats refresh once a second
    expect(await page.getByTestId("reconnects").textContent()).toBe("2");
    // Only the events topic had a position to recover from (the restarted chat stream is still empty).
    expect(await page.getByTestId("recoveries").textContent()).toBe("1 / 2");
    const dotColor = await page.$eval('[data-testid="state-pill"] .dot', (el) => getComputedStyle(el).backgroundColor);
    expect(dotColor).toBe("rgb(62, 207, 142)");
    await page.screenshot({ path: join(SHOTS, "demo-recovered.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});
