/**
 * The Deno host on real loopback sockets: handshake, auth refusal, subscribe + HTTP publish,
 * presence and history through the hono app, slow-consumer close (4008) with a raw TCP client
 * that stops reading while a normal client keeps receiving, and the `deno task server` CLI
 * draining with 1012 on SIGTERM.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createDenoServer, type DenoWseServer } from "./deno-server.ts";
import { silentLogger } from "./log.ts";
import { TestClient } from "./test-client.ts";

// Typed locally so the project's tsc (Bun types) checks this file too; at run time it is Deno's.
interface TcpConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  close(): void;
}
interface ChildProcess {
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<{ code: number }>;
  kill(signal?: string): void;
}
declare const Deno: {
  test(definition: { name: string; sanitizeOps: boolean; sanitizeResources: boolean }, fn: () => Promise<void>): void;
  connect(options: { hostname: string; port: number }): Promise<TcpConn>;
  listen(options: { hostname: string; port: number }): { addr: { port: number }; close(): void };
  makeTempDirSync(): string;
  writeTextFileSync(path: string, text: string): void;
  removeSync(path: string, options: { recursive: boolean }): void;
  Command: new (
    command: string,
    options: { args: string[]; cwd: string; env: Record<string, string>; stdout: "piped"; stderr: "piped" },
  ) => { spawn(): ChildProcess };
};

const SECRET = "deno-test-secret-0123456789abcdef0123456789";
const API_KEY = "deno-test-api-key";
const ROOT = new URL("../", import.meta.url).pathname;
const sanitize = { sanitizeOps: false, sanitizeResources: false };

type Envelope = Record<string, any>;

function mint(sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(SECRET));
}

async function ready(url: string): Promise<{ client: TestClient; ready: Envelope }> {
  const client = await TestClient.connect(url);
  const greeting = await client.waitType("server_ready", 5000);
  await client.hello();
  return { client, ready: greeting };
}

function subscribe(client: TestClient, topics: string[], presence?: Record<string, unknown>): Promise<Envelope> {
  return client.subscribe(topics, presence ? { presence } : {});
}

/** The first frame whose envelope matches. */
async function envelope(client: TestClient, match: (e: Envelope) => boolean, timeoutMs = 5000): Promise<Envelope> {
  return (await client.waitFor((r) => r.env !== undefined && match(r.env), timeoutMs)).env!;
}

async function api(base: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function withServer(
  options: Parameters<typeof createDenoServer>[0],
  fn: (server: DenoWseServer, wsUrl: string, httpUrl: string) => Promise<void>,
): Promise<void> {
  const server = createDenoServer({ host: "127.0.0.1", port: 0, apiKey: API_KEY, logger: silentLogger, ...options });
  const info = await server.listen();
  try {
    await fn(server, info.url, `http://127.0.0.1:${info.port}`);
  } finally {
    await server.stop();
  }
}

Deno.test({ name: "deno host: auth, handshake, subscribe, HTTP publish, presence, history", ...sanitize }, async () => {
  await withServer({ jwt: { secret: SECRET } }, async (_server, wsUrl, httpUrl) => {
    const health = await fetch(`${httpUrl}/health`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");

    const refused = await TestClient.connect(wsUrl);
    const error = await refused.waitType("error", 5000);
    assert.equal(error.p.code, "AUTH_REQUIRED");
    assert.equal((await refused.waitClose(5000)).code, 4401);

    const bad = await TestClient.connect(`${wsUrl}?token=not.a.jwt`);
    assert.equal((await bad.waitType("error", 5000)).p.code, "AUTH_FAILED");
    assert.equal((await bad.waitClose(5000)).code, 4401);

    const { client, ready: greeting } = await ready(`${wsUrl}?token=${await mint("deno-user")}`);
    assert.equal(greeting.p.details.user_id, "deno-user");
    const topic = `deno.${crypto.randomUUID().slice(0, 8)}`;
    const reply = await subscribe(client, [topic], { name: "dee" });
    assert.equal(reply.p.success, true);

    const first = await api(httpUrl, "/api/publish", { topic, type: "tick", payload: { n: 1 }, id: "once" });
    assert.equal(first.status, 200);
    assert.equal(first.json.offset, 0);
    const event = await envelope(client, (e) => e.tp === topic && e.t === "tick");
    assert.deepEqual(event.p, { n: 1 });
    assert.equal(event.e, first.json.epoch);
    const repeat = await api(httpUrl, "/api/publish", { topic, type: "tick", payload: { n: 1 }, id: "once" });
    assert.deepEqual(repeat.json, first.json);

    const presence = await api(httpUrl, `/api/presence/${topic}`);
    assert.equal(presence.json.num_users, 1);
    assert.deepEqual(presence.json.members["deno-user"], { data: { name: "dee" }, connections: 1 });

    const history = await api(httpUrl, `/api/history/${topic}?since=-1`);
    assert.deepEqual(history.json.publications.map((p: { offset: number }) => p.offset), [0]);

    const unauthorized = await fetch(`${httpUrl}/api/publish`, { method: "POST", body: "{}" });
    assert.equal(unauthorized.status, 401);
    await unauthorized.body?.cancel();

    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    assert.match(metrics, /^wse_connections 1$/m);
    assert.match(metrics, /^wse_auth_failures_total 2$/m);
    client.close();
    await client.waitClose(5000);
  });
});

Deno.test({ name: "deno host: server-side publish, broadcast and disconnect", ...sanitize }, async () => {
  await withServer({}, async (server, wsUrl) => {
    const a = await ready(wsUrl);
    const b = await ready(wsUrl);
    const topic = "deno.server-side";
    await subscribe(a.client, [topic]);
    await server.publish(topic, "from_server", { ok: true });
    await envelope(a.client, (e) => e.tp === topic && e.t === "from_server");
    assert.equal(b.client.frames.some((r) => r.env?.tp === topic), false);

    await server.broadcast("notice", { all: true });
    await a.client.waitType("notice", 5000);
    await b.client.waitType("notice", 5000);

    assert.equal(await server.disconnect({ connectionId: b.ready.p.details.connection_id, code: 4000 }), 1);
    assert.equal((await b.client.waitClose(5000)).code, 4000);
    a.client.close();
    await a.client.waitClose(5000);
  });
});

/** A WebSocket client on a raw TCP stream that completes the upgrade, subscribes, then never reads. */
async function stalledSubscriber(port: number, topic: string): Promise<TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const request =
    `GET /wse HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  await conn.write(new TextEncoder().encode(request));
  // Read the 101 response and the first frames, then stop reading for good.
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer);
  assert.ok(n && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("HTTP/1.1 101"));
  const frame = (text: string) => {
    const payload = new TextEncoder().encode(text);
    assert.ok(payload.length < 126);
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const out = new Uint8Array(6 + payload.length);
    out[0] = 0x81;
    out[1] = 0x80 | payload.length;
    out.set(mask, 2);
    for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
    return out;
  };
  await conn.write(frame(JSON.stringify({ t: "subscription_update", p: { action: "subscribe", topics: [topic] } })));
  return conn;
}

function randomText(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(Math.ceil((bytes * 3) / 4)));
  let s = "";
  for (let i = 0; i < raw.length; i += 4096) s += String.fromCharCode(...raw.subarray(i, i + 4096));
  return btoa(s).slice(0, bytes);
}

Deno.test({ name: "deno host: a consumer that stops reading is closed 4008, others keep receiving", ...sanitize }, async () => {
  await withServer({ backpressureLimit: 256 * 1024 }, async (server, wsUrl) => {
    const topic = "deno.firehose";
    const fast = await ready(wsUrl);
    await subscribe(fast.client, [topic]);
    const port = Number(new URL(wsUrl).port);
    const stalled = await stalledSubscriber(port, topic);
    // Wait until the stalled connection is subscribed (2 subscribers in the topic).
    for (let i = 0; i < 100 && server.metrics().topics[topic] !== 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.metrics().topics[topic], 2);

    // 400 publications of 64 KiB random base64 (~48 KiB compressed each): far more than the
    // kernel buffers plus the 256 KiB limit. The publisher waits for the reading client after each
    // one (client and server share this event loop), so only the stalled socket piles up.
    const count = 400;
    const chunk = randomText(64 * 1024);
    let received = 0;
    for (let i = 0; i < count; i++) {
      await server.publish(topic, "blob", { i, chunk });
      await fast.client.waitPublications(topic, i + 1, 10_000);
      received = i + 1;
    }
    assert.equal(received, count);
    for (let i = 0; i < 200 && server.metrics().slowConsumerCloses === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(server.metrics().slowConsumerCloses, 1);
    assert.equal(server.metrics().topics[topic], 1);
    fast.client.close();
    await fast.client.waitClose(5000);
    try {
      stalled.close();
    } catch {
      // closed by the server
    }
  });
});

Deno.test({ name: "deno task server: env config, publish over HTTP, SIGTERM drains with 1012", ...sanitize }, async () => {
  const demoDir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${demoDir}/index.html`, "<!doctype html><title>deno demo marker</title>");
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command(`${ROOT}node_modules/.bin/deno`, {
    args: ["run", "-A", `${ROOT}server/deno.ts`, "--demo-dir", demoDir],
    cwd: ROOT,
    env: { WSE_HOST: "127.0.0.1", WSE_PORT: String(port), WSE_API_KEY: API_KEY, WSE_JWT_SECRET: SECRET },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const collect = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr as unknown as AsyncIterable<Uint8Array>) logs.push(decoder.decode(chunk));
  })();
  const out = child.stdout.cancel();
  const httpUrl = `http://127.0.0.1:${port}`;
  try {
    let up = false;
    for (let i = 0; i < 150 && !up; i++) {
      try {
        const res = await fetch(`${httpUrl}/health`);
        await res.body?.cancel();
        up = res.status === 200;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(up, `server did not come up: ${logs.join("")}`);
    const demo = await fetch(`${httpUrl}/demo/`);
    assert.equal(demo.status, 200);
    assert.match(await demo.text(), /deno demo marker/);
    const escape = await fetch(`${httpUrl}/demo/..%2f..%2fetc%2fpasswd`);
    assert.equal(escape.status, 404);
    await escape.body?.cancel();
    const { client } = await ready(`ws://127.0.0.1:${port}/wse?token=${await mint("cli-user")}`);
    await subscribe(client, ["cli.topic"]);
    const published = await api(httpUrl, "/api/publish", { topic: "cli.topic", type: "cli_event", payload: { x: 1 } });
    assert.equal(published.status, 200);
    await envelope(client, (e) => e.tp === "cli.topic" && e.t === "cli_event");

    child.kill("SIGTERM");
    assert.equal((await client.waitClose(5000)).code, 1012);
    const status = await child.status;
    assert.equal(status.code, 0);
    const text = logs.join("");
    assert.match(text, /"msg":"wse server started"/);
    assert.match(text, /"runtime":"deno /);
    assert.ok(!text.includes(SECRET));
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.status;
    await collect;
    await out;
    Deno.removeSync(demoDir, { recursive: true });
  }
});
