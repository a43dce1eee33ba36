/**
 * A throwaway `redis-server` for tests and local clusters: loopback only, a free port, no
 * persistence (`--save '' --appendonly no`), stopped when the test is done.
 *
 * ```ts
 * import { startRedisServer } from "../../scripts/redis-test-server.ts";
 * const redis = await startRedisServer();
 * // ... use redis.url ...
 * await redis.stop();
 * ```
 *
 * Run directly (`bun scripts/redis-test-server.ts [port]`) it prints the URL and keeps the server
 * running until the process gets SIGINT/SIGTERM.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

/** A running (or stopped, restartable) test Redis. */
export interface RedisTestServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The loopback port; stays the same across `stop()` / `start()`. */
  readonly port: number;
  /** True while the server process runs. */
  readonly running: boolean;
  /** Starts the server again on the same port (after `stop()` or `kill()`); all data is gone. */
  start(): Promise<void>;
  /** Stops the server with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL and waits for it to exit (a crash). */
  kill(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered (a hung Redis). */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

/** Options for `startRedisServer`. */
export interface RedisTestServerOptions {
  /** Port to use; default: a free one. */
  port?: number;
  /** Executable; default `$REDIS_SERVER` or `redis-server`. */
  executable?: string;
  /** How long to wait for "Ready to accept connections" (ms); default 10 000. */
  startTimeoutMs?: number;
}

/** Finds a port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/**
 * Sends a signal by pid: Deno's `ChildProcess.kill` delivers only the first signal it is given,
 * so pause/resume followed by a stop would otherwise leave the server running there.
 */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, name);
  } catch {
    // already gone
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal(child, "SIGKILL");
      resolve();
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function launch(executable: string, port: number, timeoutMs: number): Promise<ChildProcess> {
  const args = [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--protected-mode", "yes", "--loglevel", "notice", "--daemonize", "no",
  ];
  const child = spawn(executable, args, { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`redis-server on port ${port} did not start: ${why}\n${log.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.once("error", (error) => fail(error.message));
    child.once("exit", (code, signal) => fail(`exited (${code ?? signal})`));
  });
}

/** Starts a throwaway redis-server on a free loopback port and resolves once it is ready. */
export async function startRedisServer(options: RedisTestServerOptions = {}): Promise<RedisTestServer> {
  const executable = options.executable ?? process.env.REDIS_SERVER ?? "redis-server";
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let port = options.port ?? 0;
  let child: ChildProcess | null = null;
  let paused = false;
  for (let attempt = 0; child === null; attempt++) {
    const candidate = port || (await freePort());
    try {
      child = await launch(executable, candidate, timeoutMs);
      port = candidate;
    } catch (error) {
      // A free port can be taken between probing and binding; try another one a few times.
      if (options.port !== undefined || attempt >= 3) throw error;
    }
  }
  const server: RedisTestServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (this.running) return;
      child = await launch(executable, port, timeoutMs);
    },
    async stop() {
      if (!child) return;
      const current = child;
      this.resume();
      signal(current, "SIGTERM");
      await waitForExit(current, 5_000);
    },
    async kill() {
      if (!child) return;
      const current = child;
      this.resume();
      signal(current, "SIGKILL");
      await waitForExit(current, 5_000);
    },
    pause() {
      if (!child || paused) return;
      signal(child, "SIGSTOP");
      paused = true;
    },
    resume() {
      if (!child || !paused) return;
      signal(child, "SIGCONT");
      paused = false;
    },
  };
  return server;
}

if (import.meta.main) {
  const port = process.argv[2] ? Number(process.argv[2]) : undefined;
  const server = await startRedisServer({ port });
  console.log(server.url);
  const shutdown = async () => {
    await server.stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}
