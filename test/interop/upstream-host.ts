/**
 * Starts `test/interop/upstream_server.py` (the upstream WSE 2.x server behind our host app) from
 * Bun tests and talks to its HTTP API. Needs `.venv` (created by `scripts/setup-python.sh`).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { SignJWT } from "jose";

const REPO = new URL("../../", import.meta.url).pathname;
const PYTHON = `${REPO}.venv/bin/python`;

/** Why the upstream host cannot run here, or null when it can. */
export function upstreamUnavailable(): string | null {
  if (!existsSync(PYTHON)) return "no .venv: run bash scripts/setup-python.sh";
  return null;
}

/** A running upstream host. */
export interface UpstreamHost {
  /** WebSocket endpoint. */
  wsUrl: string;
  /** HTTP API base. */
  httpUrl: string;
  /** The HS256 secret it verifies. */
  secret: string;
  /** API key of its HTTP API. */
  apiKey: string;
  /** Signs a token for `sub`. */
  token(sub: string, ttlSeconds?: number): Promise<string>;
  /** Calls its HTTP API (JSON in, JSON out); throws on a non-2xx answer. */
  call(method: "GET" | "POST", path: string, body?: unknown): Promise<any>;
  /** `POST /api/publish`: the assigned position. */
  publish(topic: string, type: string, payload: unknown): Promise<{ epoch: string; offset: number }>;
  /** Its recent output (for failure messages). */
  logs(): string;
  /** Stops it. */
  stop(): Promise<void>;
}

/** Reads a byte stream to its end, handing each decoded chunk to `onText`. */
async function pump(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onText(decoder.decode(value, { stream: true }));
    }
  } catch {
    // the process is gone
  }
}

/** Settings of `startUpstream` that a restart keeps. */
export interface UpstreamStartOptions {
  /** HS256 secret (default: random). */
  secret?: string;
  /** WebSocket port (default: a free one). */
  port?: number;
}

/** Starts the upstream host with extra `upstream_server.py` flags. */
export async function startUpstream(flags: string[] = [], options: UpstreamStartOptions = {}): Promise<UpstreamHost> {
  const secret = options.secret ?? Buffer.from(crypto.getRandomValues(new Uint8Array(36))).toString("base64url");
  const apiKey = `interop-${crypto.randomUUID()}`;
  const portFlag = options.port ? [`--port=${options.port}`] : [];
  const proc = Bun.spawn(
    [PYTHON, `${REPO}test/interop/upstream_server.py`, `--jwt-secret=${secret}`, `--api-key=${apiKey}`, "--exit-on-stdin-eof", ...portFlag, ...flags],
    { cwd: REPO, stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  let output = "";
  let resolveInfo: (line: string) => void = () => {};
  const infoLine = new Promise<string>((resolve) => (resolveInfo = resolve));
  void pump(proc.stdout, (text) => {
    output += text;
    const line = output.split("\n").find((l) => l.startsWith("{") && l.includes('"ws_url"'));
    if (line) resolveInfo(line);
  });
  void pump(proc.stderr, (text) => {
    output += text;
  });
  const line = await Promise.race([
    infoLine,
    proc.exited.then((code) => Promise.reject(new Error(`upstream host exited (${code}):\n${output}`))),
    Bun.sleep(30_000).then(() => Promise.reject(new Error(`upstream host not ready in 30 s:\n${output}`))),
  ]);
  const info = JSON.parse(line) as { ws_url: string; http_url: string };
  const key = new TextEncoder().encode(secret);

  const call = async (method: "GET" | "POST", path: string, body?: unknown) => {
    const res = await fetch(`${info.http_url}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };

  return {
    wsUrl: info.ws_url,
    httpUrl: info.http_url,
    secret,
    apiKey,
    token: (sub, ttlSeconds = 600) =>
      new SignJWT({ sub })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(key),
    call,
    publish: (topic, type, payload) => call("POST", "/api/publish", { topic, type, payload }),
    logs: () => output.slice(-4000),
    stop: async () => {
      try {
        proc.stdin.end();
      } catch {
        // already closed
      }
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(8000).then(() => false)]);
      if (!done) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
  };
}

/** True when `host` completes a WebSocket handshake and sends `server_ready` within `timeoutMs`. */
export async function accepts(host: UpstreamHost, timeoutMs = 3000): Promise<boolean> {
  const token = await host.token("__health__");
  // Bun's WebSocket takes handshake headers as a second-argument option.
  const ws = new WebSocket(host.wsUrl, { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
  try {
    return await Promise.race([
      new Promise<boolean>((resolve) => {
        ws.addEventListener("message", (e) => resolve(String(e.data).includes('"server_ready"')));
        ws.addEventListener("error", () => resolve(false));
        ws.addEventListener("close", () => resolve(false));
      }),
      Bun.sleep(timeoutMs).then(() => false),
    ]);
  } finally {
    ws.close();
  }
}

/** Returns `host` when it still accepts connections, else a fresh one (upstream 2.5.1 stalls now
 * and then, docs/COMPATIBILITY.md row 35); says so on stderr. */
export async function ensureAlive(host: UpstreamHost, flags: string[] = []): Promise<UpstreamHost> {
  if (await accepts(host)) return host;
  console.warn("[interop] the upstream host stopped accepting connections; restarting it");
  await host.stop();
  return startUpstream(flags);
}
