/**
 * The single-file executable: `npm run build:exe` (bun build --compile) → `dist/wse-server`, run
 * from a directory outside the repository (so it cannot lean on source files or node_modules),
 * connected to with a WebSocket, published to over HTTP, drained with SIGTERM; then once more
 * with `--redis` against a real redis-server.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedisServer } from "../../scripts/redis-test-server.ts";
import { apiPublish, checkStandaloneServer, handshake, ROOT, spawnServer, subscribe, type ServerProcess } from "./scenario.ts";

const secret = "exe-binary-secret-0123456789abcdef01234567";
const apiKey = "exe-binary-api-key";
const workDir = mkdtempSync(join(tmpdir(), "wse-exe-"));
const started: ServerProcess[] = [];

afterAll(async () => {
  for (const server of started) await server.stop(2000);
  rmSync(workDir, { recursive: true, force: true });
});

describe("dist/wse-server", () => {
  test("npm run build:exe builds a working single-file server", async () => {
    const build = Bun.spawn(["npm", "run", "--silent", "build:exe"], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, PATH: `${ROOT}node_modules/.bin:${process.env.PATH}` },
    });
    const [out, err] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text()]);
    const code = await build.exited;
    if (code !== 0) throw new Error(`build:exe failed (${code}):\n${out}\n${err}`);
    const binary = join(ROOT, "dist/wse-server");
    expect(existsSync(binary)).toBe(true);

    // Run a copy from an empty directory: everything (wasm included) must be inside the binary.
    const copy = join(workDir, "wse-server");
    cpSync(binary, copy);
    const server = await spawnServer([copy], { WSE_JWT_SECRET: secret, WSE_API_KEY: apiKey }, 30_000, workDir);
    started.push(server);
    expect(server.output()).toContain('"wse server started"');
    await checkStandaloneServer(server, secret, apiKey);

    // The Redis broker (a dynamic import of ioredis) is inside the binary too.
    const redis = await startRedisServer();
    try {
      const clustered = await spawnServer([copy, "--redis", redis.url], { WSE_API_KEY: apiKey }, 30_000, workDir);
      started.push(clustered);
      expect(clustered.output()).toContain('"broker":"redis"');
      const { client } = await handshake(clustered.wsUrl);
      const topic = "exe.redis";
      expect((await subscribe(client, [topic])).p.success).toBe(true);
      const published = await apiPublish(clustered.httpUrl, apiKey, { topic, type: "via_redis", payload: { ok: true } });
      expect(published.status).toBe(200);
      const event = await client.waitFor((e) => e.tp === topic, "publication through Redis");
      expect(event).toMatchObject({ t: "via_redis", p: { ok: true }, o: published.body.offset });
      client.close();
      expect(await clustered.stop()).toBe(0);
    } finally {
      await redis.stop();
    }
  }, 180_000);
});
