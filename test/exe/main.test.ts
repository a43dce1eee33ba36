/**
 * End-to-end: `bun server/main.ts` as a child process on a free port, configured only through
 * environment variables, checked over real WebSockets and HTTP.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { checkStandaloneServer, handshake, ROOT, spawnServer, type ServerProcess } from "./scenario.ts";

const secret = "exe-test-secret-0123456789abcdef0123456789";
const apiKey = "exe-test-api-key";
const started: ServerProcess[] = [];
afterAll(async () => {
  for (const server of started) await server.stop(2000);
});

describe("bun server/main.ts", () => {
  test("serves WebSocket + HTTP API and drains on SIGTERM", async () => {
    const server = await spawnServer([process.execPath, `${ROOT}server/main.ts`], {
      WSE_JWT_SECRET: secret,
      WSE_API_KEY: apiKey,
    });
    started.push(server);
    const summary = server.output().split("\n").find((line) => line.includes('"wse server started"'));
    expect(summary).toBeDefined();
    const fields = JSON.parse(summary!);
    expect(fields.level).toBe("info");
    expect(fields.auth).toBe("HS256");
    expect(fields.api).toBe("enabled");
    expect(fields.broker).toBe("memory");
    expect(server.output()).not.toContain(secret);
    expect(server.output()).not.toContain(apiKey);
    await checkStandaloneServer(server, secret, apiKey);
  }, 60_000);

  test("--help lists the settings and exits 0", async () => {
    const proc = Bun.spawn([process.execPath, `${ROOT}server/main.ts`, "--help"], { stdout: "pipe", stderr: "pipe" });
    const text = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    for (const name of ["WSE_PORT", "WSE_JWT_SECRET", "WSE_API_KEY", "WSE_REDIS_URL", "--config"]) expect(text).toContain(name);
  }, 20_000);

  test("a bad flag exits 2 with a clear message", async () => {
    const proc = Bun.spawn([process.execPath, `${ROOT}server/main.ts`, "--prot", "1"], { stdout: "pipe", stderr: "pipe" });
    const text = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(2);
    expect(text).toContain("unknown flag --prot (did you mean --port?)");
  }, 20_000);

  test("a short JWT secret stops startup with exit 1", async () => {
    const proc = Bun.spawn([process.execPath, `${ROOT}server/main.ts`, "--port", "0"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, WSE_JWT_SECRET: "too-short" },
    });
    const text = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(1);
    expect(text).toContain("at least 32");
  }, 20_000);
});

describe("--demo-dir", () => {
  test("serves the directory under /demo/ without escaping it", async () => {
    const { mkdtempSync, writeFileSync, mkdirSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "wse-demo-"));
    mkdirSync(join(dir, "site"));
    writeFileSync(join(dir, "site", "index.html"), "<!doctype html><title>demo marker</title>");
    writeFileSync(join(dir, "site", "app.js"), "console.log('demo')");
    writeFileSync(join(dir, "secret.txt"), "outside");
    try {
      const server = await spawnServer([process.execPath, `${ROOT}server/main.ts`, "--demo-dir", "site"], {}, 20_000, dir);
      started.push(server);
      const index = await fetch(`${server.httpUrl}/demo/`);
      expect(index.status).toBe(200);
      expect(index.headers.get("content-type")).toStartWith("text/html");
      expect(await index.text()).toContain("demo marker");
      const script = await fetch(`${server.httpUrl}/demo/app.js`);
      expect(script.headers.get("content-type")).toStartWith("text/javascript");
      const redirect = await fetch(`${server.httpUrl}/demo`, { redirect: "manual" });
      expect(redirect.status).toBe(302);
      for (const path of ["/demo/../secret.txt", "/demo/%2e%2e/secret.txt", "/demo/..%2fsecret.txt", "/demo/missing.html"]) {
        const res = await fetch(`${server.httpUrl}${path}`);
        expect(res.status).toBe(404);
        expect(await res.text()).not.toContain("outside");
      }
      // The WebSocket endpoint and the HTTP app still work beside the demo.
      expect((await fetch(`${server.httpUrl}/health`)).status).toBe(200);
      const { client, ready } = await handshake(server.wsUrl);
      expect(ready.p.details.user_id).toBe(ready.p.details.connection_id);
      client.close();
      expect(server.output()).toContain('"demo":true');
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
