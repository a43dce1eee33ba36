/**
 * Runtime-neutral helpers for the client's end-to-end tests (Bun, Deno and Node): start the real
 * server (`bun server/main.ts`) as a child process on a free loopback port, kill and restart it,
 * publish over its HTTP API, and mint JWTs.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer as createNetServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The pinned Bun binary. */
export const BUN = join(ROOT, "node_modules/.bin/bun");
/** JWT secret the test servers use (≥ 32 bytes). */
export const SECRET = "client-tests-secret-0123456789abcdef";
/** API key of the test servers' `/api/*` routes. */
export const API_KEY = "client-tests-api-key";

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createNetServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** An HS256 token for `sub`, valid for an hour. */
export function mintToken(sub: string, claims: Record<string, unknown> = {}, secret = SECRET): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret));
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `predicate` every 20 ms until true or `timeout` ms passed (then throws with `what`). */
export async function waitFor(predicate: () => boolean, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Options of `startServer`. */
export interface ServerProcessOptions {
  /** Port to bind (default: a free one). */
  port?: number;
  /** Extra CLI flags. */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Configure JWT auth with `SECRET` (default true). */
  auth?: boolean;
}

/** A running server process. */
export interface ServerProcess {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/wse`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>`. */
  readonly http: string;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Everything it wrote to stderr. */
  log(): string;
  /** True until the process exited. */
  alive(): boolean;
}

/** A child process, whichever runtime started it. */
interface Child {
  exited: Promise<void>;
  done(): boolean;
  kill(signal: NodeJS.Signals): void;
  onStderr(listener: (text: string) => void): void;
}

/** The slice of Bun's API `launch` uses (typed locally so Deno and Node type-check this file). */
interface BunSpawner {
  spawn(cmd: string[], options: { cwd: string; env: Record<string, string>; stdout: "ignore"; stderr: "pipe" }): {
    exited: Promise<number>;
    stderr: ReadableStream<Uint8Array>;
    kill(signal?: string): void;
  };
}

/** Spawns `bun argv…`: with `Bun.spawn` under Bun (whose test runner reaps node:child_process children), else node:child_process. */
function launch(argv: string[], env: Record<string, string>): Child {
  const bun = (globalThis as { Bun?: BunSpawner }).Bun;
  if (bun) {
    const proc = bun.spawn([BUN, ...argv], { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" });
    let finished = false;
    const exited = proc.exited.then(() => {
      finished = true;
    });
    const listeners: Array<(t: string) => void> = [];
    (async () => {
      const decoder = new TextDecoder();
      const reader = proc.stderr.getReader();
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        for (const l of listeners) l(text);
      }
    })().catch(() => undefined);
    return { exited, done: () => finished, kill: (s) => proc.kill(s), onStderr: (l) => listeners.push(l) };
  }
  const child: ChildProcess = spawn(BUN, argv, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
  let finished = false;
  const exited = new Promise<void>((r) => child.once("exit", () => {
    finished = true;
    r();
  }));
  return {
    exited,
    done: () => finished,
    kill: (s) => child.kill(s),
    onStderr: (l) => child.stderr?.on("data", (chunk) => l(String(chunk))),
  };
}

/** Starts `bun server/main.ts` on 127.0.0.1 and waits for `/health`. */
export async function startServer(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  // A free port can be taken between choosing and binding it: choose again (never for a fixed port).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(options.port ?? await freePort(), options);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !/in use|EADDRINUSE/i.test(String(error))) throw error;
    }
  }
}

async function startServerOnce(port: number, options: ServerProcessOptions): Promise<ServerProcess> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    WSE_PORT: String(port),
    WSE_HOST: "127.0.0.1",
    WSE_API_KEY: API_KEY,
    WSE_LOG_LEVEL: "warn",
    ...(options.env ?? {}),
  };
  if (options.auth !== false) env.WSE_JWT_SECRET = SECRET;
  else delete env.WSE_JWT_SECRET;
  const argv = [join(ROOT, "server/main.ts"), "--host", "127.0.0.1", "--port", String(port), "--client-publish", ...(options.args ?? [])];
  const child = launch(argv, env);
  let stderr = "";
  child.onStderr((chunk) => {
    stderr += chunk;
  });
  const exited = child.exited;
  const http = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  while (true) {
    if (child.done()) throw new Error(`server exited early: ${stderr}`);
    try {
      const res = await fetch(`${http}/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server did not become healthy: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    port,
    url: `ws://127.0.0.1:${port}/wse`,
    http,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (!child.done()) child.kill(signal);
      await exited;
    },
    log: () => stderr,
    alive: () => !child.done(),
  };
}

/** Publishes through `POST /api/publish`; returns the assigned position. */
export async function publish(server: { http: string }, topic: string, type: string, payload: unknown): Promise<{ epoch: string; offset: number }> {
  const res = await fetch(`${server.http}/api/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ topic, type, payload }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`publish failed: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Event fields a stream check needs. */
export interface StampedEvent {
  type: string;
  topic?: string;
  epoch?: string;
  offset?: number;
  payload: Record<string, unknown>;
}

/**
 * Checks an application's view of one topic: no (epoch, offset) twice, offsets consecutive
 * within an epoch, and every epoch change preceded by a `discontinuity` event.
 * Returns a list of problems (empty = fine).
 */
export function streamProblems(events: StampedEvent[], topic: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  let last: { epoch: string; offset: number } | undefined;
  let discontinuityPending = false;
  for (const e of events) {
    if (e.type === "discontinuity" && e.payload.topic === topic) {
      discontinuityPending = true;
      continue;
    }
    if (e.topic !== topic || e.epoch === undefined || e.offset === undefined) continue;
    const key = `${e.epoch}:${e.offset}`;
    if (seen.has(key)) problems.push(`duplicate ${key}`);
    seen.add(key);
    if (last && last.epoch === e.epoch && e.offset !== last.offset + 1 && !discontinuityPending) {
      problems.push(`gap ${last.epoch}:${last.offset} → ${key} without a discontinuity event`);
    }
    if (last && last.epoch !== e.epoch && !discontinuityPending) {
      problems.push(`epoch change ${last.epoch} → ${e.epoch} without a discontinuity event`);
    }
    discontinuityPending = false;
    last = { epoch: e.epoch, offset: e.offset };
  }
  return problems;
}
