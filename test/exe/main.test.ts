/**
 * End-to-end: `bun server/main.ts` as a child process on a free port, configured only through
 * environment variables, checked over real WebSockets and HTTP.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { checkStandaloneServer, ROOT, spawnServer, type ServerProcess } from "./scenario.ts";

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
