/**
 * The systems under test and how to start them: our server through the embedding API
 * (`ours`), our standalone CLI published to over HTTP one request per publication (`ours-http`)
 * or in batches through `POST /api/publish/batch` (`ours-http-batch`), the bare Bun ceiling
 * (`bare-bun`) and the upstream Rust/Python server (`upstream`). Each start returns the server
 * process (for RSS/CPU), the port, and a publisher that speaks the host control protocol.
 *
 * @example
 * ```ts
 * import { startSystem } from "./systems.ts";
 * const sys = await startSystem("bare-bun", { jwtSecret: "x".repeat(32) });
 * sys.publisher.send({ cmd: "publish", topics: ["a"], count: 10 });
 * await sys.stop();
 * ```
 * @module
 */
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { JsonProcess, withFdLimit } from "./procs.ts";

/** Names of the systems the scenarios compare. */
export type SystemName = "ours" | "ours-http" | "ours-http-batch" | "bare-bun" | "upstream";

/** The systems published to through our HTTP API (a separate publisher process). */
export function isHttpSystem(name: SystemName): name is "ours-http" | "ours-http-batch" {
  return name === "ours-http" || name === "ours-http-batch";
}

/** Settings shared by every system so that runs are equivalent. */
export interface SystemOptions {
  /** HS256 secret (≥ 32 bytes); upstream needs one to send `server_ready`. */
  jwtSecret: string;
  /** Recovery (history + stamps) on; default true. */
  recovery?: boolean;
  /** Bind address (default 127.0.0.1; 0.0.0.0 to accept 127.0.0.x destinations). */
  host?: string;
  /** Compression threshold in bytes (default 1024). */
  compressThreshold?: number;
  /** Server ping interval in ms (default 25 000). */
  pingMs?: number;
  /** Redis URL for our server (`WSE_REDIS_URL`). */
  redisUrl?: string;
  /** Extra runtime flags for our server / bare Bun (e.g. `--cpu-prof`). */
  bunFlags?: string[];
  /** Open-file limit to raise the server to (`ulimit -n`, up to the hard limit). */
  fdLimit?: number;
  /** Extra environment. */
  env?: Record<string, string>;
}

/** A started system. */
export interface RunningSystem {
  name: SystemName;
  /** WebSocket port. */
  port: number;
  /** The server process (RSS and CPU are read from its pid). */
  server: JsonProcess;
  /** Where `publish` commands go (the server itself, or an HTTP publisher process). */
  publisher: JsonProcess;
  /** Stops the publisher and the server. */
  stop(): Promise<void>;
}

/** The project root (bench/lib/../..). */
export const ROOT = new URL("../../", import.meta.url).pathname;
const BUN = process.execPath;
const PYTHON = `${ROOT}.venv/bin/python`;
/** API key our HTTP publisher uses. */
export const BENCH_API_KEY = "bench-api-key-0123456789";

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Why a system cannot run here, or null when it can. */
export function unavailableReason(name: SystemName): string | null {
  if (name === "upstream" && !existsSync(PYTHON)) return "no .venv (run scripts/setup-python.sh)";
  if ((name === "ours" || isHttpSystem(name)) && !existsSync(`${ROOT}server/mod.ts`)) return "server/mod.ts has not landed";
  if (isHttpSystem(name) && !existsSync(`${ROOT}server/main.ts`)) return "server/main.ts has not landed";
  return null;
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status < 500) return;
      lastError = `status ${response.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await Bun.sleep(50);
  }
  throw new Error(`server at ${url} not up after ${timeoutMs} ms: ${lastError}`);
}

/** Starts a system and waits until it accepts connections. */
export async function startSystem(name: SystemName, options: SystemOptions): Promise<RunningSystem> {
  const reason = unavailableReason(name);
  if (reason) throw new Error(`${name} unavailable: ${reason}`);
  const host = options.host ?? "127.0.0.1";
  const env: Record<string, string> = {
    BENCH_HOST: host,
    BENCH_JWT_SECRET: options.jwtSecret,
    BENCH_RECOVERY: options.recovery === false ? "0" : "1",
    BENCH_COMPRESS_THRESHOLD: String(options.compressThreshold ?? 1024),
    BENCH_PING_MS: String(options.pingMs ?? 25_000),
    BENCH_PING_S: String(Math.max(1, Math.round((options.pingMs ?? 25_000) / 1000))),
    BENCH_API_KEY,
    ...options.env,
  };
  const flags = options.bunFlags ?? [];
  if (name === "bare-bun" || name === "ours") {
    const script = name === "bare-bun" ? "bench/baselines/bare-bun.ts" : "bench/hosts/ours.ts";
    const server = JsonProcess.spawn(name, withFdLimit([BUN, ...flags, `${ROOT}${script}`], options.fdLimit), { env: { ...env, BENCH_PORT: "0" }, cwd: ROOT });
    const ready = await server.waitFor((e) => e.ev === "ready", 20_000);
    const port = Number(ready.port);
    return { name, port, server, publisher: server, stop: () => server.stop(5000) };
  }
  if (name === "upstream") {
    const port = await freePort();
    const server = JsonProcess.spawn(name, withFdLimit([PYTHON, `${ROOT}bench/baselines/upstream_host.py`], options.fdLimit), { env: { ...env, BENCH_PORT: String(port) }, cwd: ROOT });
    await server.waitFor((e) => e.ev === "ready", 20_000);
    return { name, port, server, publisher: server, stop: () => server.stop(5000) };
  }
  const port = await freePort();
  const cliEnv: Record<string, string> = {
    WSE_HOST: host,
    WSE_PORT: String(port),
    WSE_JWT_SECRET: options.jwtSecret,
    WSE_API_KEY: BENCH_API_KEY,
    WSE_RECOVERY: options.recovery === false ? "false" : "true",
    WSE_LOG_LEVEL: "warn",
    WSE_COMPRESSION_THRESHOLD: String(options.compressThreshold ?? 1024),
    WSE_PING_INTERVAL_MS: String(options.pingMs ?? 25_000),
    WSE_IDLE_TIMEOUT_MS: String(Math.max(120_000, (options.pingMs ?? 25_000) * 3)),
  };
  if (options.redisUrl) cliEnv.WSE_REDIS_URL = options.redisUrl;
  const server = JsonProcess.spawn(name, withFdLimit([BUN, ...flags, `${ROOT}server/main.ts`], options.fdLimit), { env: { ...env, ...cliEnv }, cwd: ROOT });
  try {
    await waitHttp(`http://127.0.0.1:${port}/health`, 20_000);
  } catch (error) {
    server.kill();
    throw new Error(`${(error as Error).message}; server said: ${server.stderrTail.slice(-5).join(" | ")}`);
  }
  const publisher = JsonProcess.spawn(`${name}-publisher`, [BUN, `${ROOT}bench/publisher.ts`], {
    env: { BENCH_URL: `http://127.0.0.1:${port}`, BENCH_API_KEY, ...(name === "ours-http-batch" ? { BENCH_HTTP_BATCH: "1" } : {}) },
    cwd: ROOT,
  });
  await publisher.waitFor((e) => e.ev === "ready", 20_000);
  return {
    name,
    port,
    server,
    publisher,
    async stop() {
      await publisher.stop(3000);
      server.proc.kill("SIGTERM");
      await server.exited(12_000);
    },
  };
}
