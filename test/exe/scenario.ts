/**
 * End-to-end check of a standalone server process (`bun server/main.ts`, the compiled
 * `dist/wse-server`, or `deno run server/deno.ts`): spawn it on a free loopback port, wait for
 * `/health`, then talk to it over real WebSockets and HTTP.
 *
 * @module
 */
import { inflateSync } from "node:zlib";
import { decode as decodeMsgpack } from "@msgpack/msgpack";
import { SignJWT } from "jose";
import { freePort, listenerIsOurs, startOnFreePort } from "../ports.ts";

/** Repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** A free TCP port on 127.0.0.1 (from `test/ports.ts`, kept here for the suites that import it from this module). */
export { freePort };

/** Sleeps `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A spawned server process. */
export interface ServerProcess {
  port: number;
  httpUrl: string;
  wsUrl: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** stdout + stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Spawns `cmd` in `cwd` with `env` (plus WSE_HOST/WSE_PORT on a free port) and waits up to
 * `timeoutMs` for `/health` → 200 from that process. When the port was taken before the server
 * bound it, spawns it again on another port.
 */
export function spawnServer(
  cmd: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
  cwd = ROOT,
): Promise<ServerProcess> {
  return startOnFreePort((port) => spawnServerOn(port, cmd, env, timeoutMs, cwd));
}

async function spawnServerOn(port: number, cmd: string[], env: Record<string, string>, timeoutMs: number, cwd: string): Promise<ServerProcess> {
  const fullEnv: Record<string, string | undefined> = { ...process.env, ...env, WSE_HOST: "127.0.0.1", WSE_PORT: String(port) };
  const proc = Bun.spawn(cmd, { cwd, env: fullEnv, stdout: "pipe", stderr: "pipe" });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) output += decoder.decode(chunk, { stream: true });
    } catch {
      // process gone
    }
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  const server: ServerProcess = {
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/wse`,
    proc,
    output: () => output,
    async stop(graceMs = 8000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!exited) {
        proc.kill("SIGKILL");
        await proc.exited;
        return null;
      }
      return proc.exitCode;
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await sleep(50);
      throw new Error(`server exited during startup (${proc.exitCode ?? proc.signalCode}):\n${output}`);
    }
    try {
      const res = await fetch(`${server.httpUrl}/health`);
      await res.body?.cancel();
      if (res.status === 200 && listenerIsOurs(proc.pid, port) !== false) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`/health not 200 within ${timeoutMs} ms:\n${output}`);
    }
    await sleep(100);
  }
}

/** A decoded server frame. */
export type Envelope = Record<string, any>;

/** Decodes a frame: text JSON, `C:` zlib, `M:` msgpack, or JSON in a binary frame. */
export function decodeServerFrame(data: string | ArrayBuffer | Uint8Array): Envelope {
  if (typeof data === "string") return JSON.parse(data.replace(/^(WSE|S|U)\{/, "{"));
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const prefix = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0);
  if (prefix === "C:") return JSON.parse(new TextDecoder().decode(inflateSync(bytes.subarray(2))));
  if (prefix === "M:") return decodeMsgpack(bytes.subarray(2)) as Envelope;
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** A minimal protocol client that records decoded frames. */
export class TestClient {
  readonly frames: Envelope[] = [];
  closed: { code: number; reason: string } | null = null;
  #waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      try {
        this.frames.push(decodeServerFrame(event.data as string | ArrayBuffer));
      } catch (error) {
        this.frames.push({ t: "__undecodable__", error: String(error) });
      }
      this.#wake();
    });
    socket.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#wake();
    });
  }

  /** Opens a connection (rejects after `timeoutMs`). */
  static connect(url: string, timeoutMs = 5000): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const client = new TestClient(socket);
      const timer = setTimeout(() => reject(new Error(`connect to ${url} timed out`)), timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`connect to ${url} failed`));
      });
    });
  }

  /** Sends an envelope as a text frame. */
  send(envelope: Envelope): void {
    this.socket.send(JSON.stringify(envelope));
  }

  /** Resolves with the first recorded frame matching `predicate` (waits up to `timeoutMs`). */
  waitFor(predicate: (e: Envelope) => boolean, what: string, timeoutMs = 5000): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.frames.find(predicate);
        if (found) {
          cleanup();
          resolve(found);
        } else if (this.closed) {
          cleanup();
          reject(new Error(`closed (${this.closed.code}) before ${what}; frames: ${JSON.stringify(this.frames).slice(0, 1500)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames).slice(0, 1500)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolves with the close event (waits up to `timeoutMs`). */
  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.closed) {
          cleanup();
          resolve(this.closed);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error("timed out waiting for close"));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Closes the socket. */
  close(): void {
    try {
      this.socket.close(1000, "test done");
    } catch {
      // already closed
    }
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Mints an HS256 token for `sub` with `exp` in 5 minutes. */
export function mintToken(secret: string, sub = "user-1", claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ sub, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(secret));
}

/** Connects, waits for `server_ready`, sends `client_hello`, waits for `server_hello`. */
export async function handshake(url: string): Promise<{ client: TestClient; ready: Envelope; hello: Envelope }> {
  const client = await TestClient.connect(url);
  const ready = await client.waitFor((e) => e.t === "server_ready", "server_ready");
  client.send({
    c: "WSE",
    t: "client_hello",
    v: 1,
    p: { client_version: "exe-test", protocol_version: 1, features: { compression: true, encryption: false } },
  });
  const hello = await client.waitFor((e) => e.t === "server_hello", "server_hello");
  return { client, ready, hello };
}

/** Subscribes to topics and waits for the subscription reply. */
export async function subscribe(client: TestClient, topics: string[]): Promise<Envelope> {
  client.send({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics } });
  return client.waitFor((e) => e.t === "subscription_update" && e.p?.action === "subscribe", "subscription reply");
}

/** `POST /api/publish` with the API key; returns status and parsed body. */
export async function apiPublish(
  httpUrl: string,
  apiKey: string | null,
  body: Record<string, unknown>,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const res = await fetch(`${httpUrl}/api/publish`, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body: parsed };
}

/**
 * The standard end-to-end check: health, metrics, auth refusal (4401), handshake with a token,
 * subscribe, HTTP publish (401 without the key) → the event arrives stamped, idempotent re-publish,
 * then SIGTERM → clients closed 1012 and the process exits 0.
 */
export async function checkStandaloneServer(server: ServerProcess, secret: string, apiKey: string): Promise<void> {
  const { expect } = await import("bun:test");
  const health = await fetch(`${server.httpUrl}/health`);
  expect(health.status).toBe(200);
  expect((await health.json()).status).toBe("ok");

  const refused = await TestClient.connect(server.wsUrl);
  const error = await refused.waitFor((e) => e.t === "error", "auth error");
  expect(error.p.code).toBe("AUTH_REQUIRED");
  expect((await refused.waitClosed()).code).toBe(4401);

  const token = await mintToken(secret, "exe-user");
  const { client, ready, hello } = await handshake(`${server.wsUrl}?token=${encodeURIComponent(token)}`);
  expect(ready.p.details.user_id).toBe("exe-user");
  expect(typeof ready.p.details.connection_id).toBe("string");
  expect(hello.p.connection_id).toBe(ready.p.details.connection_id);

  const topic = `exe.topic.${crypto.randomUUID().slice(0, 8)}`;
  const reply = await subscribe(client, [topic]);
  expect(reply.p.success).toBe(true);
  expect(reply.p.success_topics).toEqual([topic]);

  const unauthorized = await apiPublish(server.httpUrl, null, { topic, type: "exe_event", payload: {} });
  expect(unauthorized.status).toBe(401);
  const wrongKey = await apiPublish(server.httpUrl, `${apiKey}x`, { topic, type: "exe_event", payload: {} });
  expect(wrongKey.status).toBe(401);

  const published = await apiPublish(server.httpUrl, apiKey, { topic, type: "exe_event", payload: { n: 1 }, id: "exe-1" });
  expect(published.status).toBe(200);
  expect(published.body.offset).toBe(0);
  expect(published.body.epoch).toMatch(/^[0-9a-f]{8}$/);
  const event = await client.waitFor((e) => e.tp === topic && e.t === "exe_event", "published event");
  expect(event.p).toEqual({ n: 1 });
  expect(event.o).toBe(0);
  expect(event.e).toBe(published.body.epoch);

  const again = await apiPublish(server.httpUrl, apiKey, { topic, type: "exe_event", payload: { n: 1 }, id: "exe-1" });
  expect(again.body).toEqual(published.body);

  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
  expect(metrics).toMatch(/^wse_connections 1$/m);
  expect(metrics).toMatch(/^wse_auth_failures_total [1-9]/m);

  const code = await server.stop();
  const closed = await client.waitClosed();
  expect([1012, 4300]).toContain(closed.code);
  expect(code).toBe(0);
}
