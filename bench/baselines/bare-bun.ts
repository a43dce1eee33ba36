/**
 * The ceiling baseline: a bare `Bun.serve` WebSocket server that speaks just enough WSE for the
 * load generator (HS256 check on upgrade, `server_ready`, `server_hello` with optional key
 * exchange, subscribe with a reply, ping → PONG) and publishes each publication as one
 * pre-encoded, stamped frame through Bun's native `server.publish`. Frames over the compression
 * threshold go out as `C:` zlib (compressed once); encrypted connections get a per-connection
 * `E:` frame. No history, no presence, no rate limits: everything our engine adds costs
 * relative to this.
 *
 * Usage: `bun bench/baselines/bare-bun.ts` with env `BENCH_HOST` (127.0.0.1), `BENCH_PORT`
 * (0 = free port), `BENCH_JWT_SECRET` (unset = no auth), `BENCH_COMPRESS_THRESHOLD` (1024).
 * Speaks the control protocol of `bench/lib/host-control.ts` on stdin/stdout, and also accepts
 * `POST /api/publish {topic,type,payload}` so HTTP publishers can drive it.
 * @module
 */
import { createCipheriv, createECDH, createHmac, hkdfSync, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { deflateSync } from "node:zlib";
import type { ServerWebSocket } from "bun";
import { serveControl } from "../lib/host-control.ts";

interface ConnData {
  id: string;
  userId: string;
  key: Uint8Array | null;
  topics: Set<string>;
}

const host = process.env.BENCH_HOST ?? "127.0.0.1";
const port = Number(process.env.BENCH_PORT ?? 0);
const secret = process.env.BENCH_JWT_SECRET;
const threshold = Number(process.env.BENCH_COMPRESS_THRESHOLD ?? 1024);
const encoder = new TextEncoder();
const C_PREFIX = encoder.encode("C:");
const E_PREFIX = encoder.encode("E:");

interface Stream {
  epoch: string;
  offset: number;
  encrypted: Set<ServerWebSocket<ConnData>>;
}
const streams = new Map<string, Stream>();

function stream(topic: string): Stream {
  let s = streams.get(topic);
  if (!s) {
    s = { epoch: randomBytes(4).toString("hex"), offset: -1, encrypted: new Set() };
    streams.set(topic, s);
  }
  return s;
}

/** Verifies an HS256 JWT; returns `sub` or null. */
function verifyJwt(token: string): string | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !secret) return null;
  const expected = createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString()) as { sub?: unknown; exp?: unknown };
    if (typeof claims.sub !== "string" || !claims.sub) return null;
    if (typeof claims.exp !== "number" || claims.exp + 30 < Date.now() / 1000) return null;
    return claims.sub;
  } catch {
    return null;
  }
}

function encrypt(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  return Buffer.concat([E_PREFIX, iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function sendPlainOrEncrypted(ws: ServerWebSocket<ConnData>, text: string): void {
  if (ws.data.key) ws.sendBinary(encrypt(ws.data.key, encoder.encode(text)));
  else ws.sendText(text);
}

function publish(topic: string, type: string, payload: unknown): { epoch: string; offset: number } {
  const s = stream(topic);
  s.offset++;
  const text =
    `{"tp":${JSON.stringify(topic)},"e":"${s.epoch}","o":${s.offset},"c":"U","t":${JSON.stringify(type)},` +
    `"id":"${randomUUID()}","ts":"${new Date().toISOString()}","v":1,"p":${JSON.stringify(payload)}}`;
  const bytes = encoder.encode(text);
  if (bytes.length > threshold) server.publish(topic, Buffer.concat([C_PREFIX, deflateSync(bytes, { level: 6 })]));
  else server.publish(topic, text);
  for (const ws of s.encrypted) ws.sendBinary(encrypt(ws.data.key!, bytes));
  return { epoch: s.epoch, offset: s.offset };
}

function onText(ws: ServerWebSocket<ConnData>, text: string): void {
  let message: { t?: string; type?: string; p?: Record<string, unknown>; payload?: Record<string, unknown> };
  try {
    message = JSON.parse(text);
  } catch {
    return;
  }
  const type = message.t ?? message.type;
  const p = message.p ?? message.payload ?? {};
  if (type === "client_hello") {
    const hello: Record<string, unknown> = {
      connection_id: ws.data.id,
      server_version: "bare-bun",
      protocol_version: 1,
      server_time: new Date().toISOString(),
      ping_interval: 25000,
      features: { compression: true, encryption: false, msgpack: false, recovery: true, presence: false },
      limits: { max_message_size: 1048576, rate_limit_capacity: 1000, rate_limit_refill: 100 },
    };
    const peer = p.encryption_public_key;
    let key: Uint8Array | null = null;
    if (p.features && (p.features as Record<string, unknown>).encryption && typeof peer === "string") {
      const ecdh = createECDH("prime256v1");
      hello.encryption_public_key = ecdh.generateKeys().toString("base64");
      const shared = ecdh.computeSecret(Buffer.from(peer, "base64"));
      key = new Uint8Array(hkdfSync("sha256", shared, new Uint8Array(32), "wse-encryption/aes-gcm-key", 32));
      (hello.features as Record<string, unknown>).encryption = true;
    }
    ws.sendText(JSON.stringify({ c: "WSE", t: "server_hello", v: 1, p: hello }));
    ws.data.key = key;
    return;
  }
  if (type === "subscription_update" || type === "subscription") {
    const topics = Array.isArray(p.topics) ? (p.topics as unknown[]).filter((t): t is string => typeof t === "string") : [];
    const recovery: Record<string, unknown> = {};
    for (const topic of topics) {
      const s = stream(topic);
      if (ws.data.key) s.encrypted.add(ws);
      else ws.subscribe(topic);
      ws.data.topics.add(topic);
      recovery[topic] = { epoch: s.offset >= 0 ? s.epoch : null, offset: s.offset, recovered: false, count: 0 };
    }
    const reply = {
      c: "WSE",
      t: "subscription_update",
      v: 1,
      p: { action: "subscribe", success: true, success_topics: topics, failed_topics: [], recoverable: true, recovered: false, recovery },
    };
    sendPlainOrEncrypted(ws, JSON.stringify(reply));
    return;
  }
  if (type === "ping") {
    const now = Date.now();
    const client = typeof p.timestamp === "number" ? p.timestamp : now;
    ws.sendText(`{"c":"WSE","t":"PONG","v":1,"p":{"client_timestamp":${client},"server_timestamp":${now},"latency":${now - client}}}`);
  }
}

const server = Bun.serve<ConnData>({
  hostname: host,
  port,
  async fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === "/api/publish" && req.method === "POST") {
      const body = (await req.json()) as { topic: string; type?: string; payload: unknown };
      return Response.json(publish(body.topic, body.type ?? "bench", body.payload));
    }
    if (url.pathname === "/health") return new Response("ok");
    let userId = `anon-${randomUUID()}`;
    if (secret) {
      const header = req.headers.get("authorization") ?? "";
      const sub = header.startsWith("Bearer ") ? verifyJwt(header.slice(7)) : null;
      if (!sub) return new Response("unauthorized", { status: 401 });
      userId = sub;
    }
    if (srv.upgrade(req, { data: { id: randomUUID(), userId, key: null, topics: new Set() } })) return undefined;
    return new Response("expected a WebSocket upgrade", { status: 426 });
  },
  websocket: {
    idleTimeout: 120,
    backpressureLimit: 16 * 1024 * 1024,
    open(ws) {
      const now = new Date().toISOString();
      ws.sendText(
        `{"c":"WSE","t":"server_ready","id":"${randomUUID()}","ts":"${now}","seq":1,"v":1,"p":{"message":"bare","details":{"connection_id":"${ws.data.id}","user_id":${JSON.stringify(ws.data.userId)},"server_time":"${now}","version":1,"features":{"compression":true,"encryption":false,"recovery":true,"presence":false,"batching":false,"priority_queue":false,"msgpack":false}}}}`,
      );
    },
    message(ws, message) {
      if (typeof message === "string") onText(ws, message);
    },
    close(ws) {
      for (const topic of ws.data.topics) streams.get(topic)?.encrypted.delete(ws);
    },
  },
});

serveControl(
  {
    publish: (topic, payload) => publish(topic, "bench", payload),
    close: () => server.stop(true),
  },
  { port: server.port, system: "bare-bun" },
);
