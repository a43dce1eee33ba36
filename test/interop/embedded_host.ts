/**
 * Interop host on our embedding API: `createServer` from `server/mod.ts` with hooks that record
 * what the application sees, plus a small control HTTP server so the Python tests can drive it.
 *
 * Usage: `bun test/interop/embedded_host.ts '<json config>'` where the config is
 * `{jwtSecret, apiKey, rateLimitCapacity?, rateLimitRefill?, presence?}`. When ready it prints
 * one JSON line `{"ws_url", "http_url"}`; it stops on SIGTERM/SIGINT or when stdin closes.
 *
 * Control routes (Bearer `apiKey`):
 * - `POST /api/publish {topic, type, payload, id?}` → `server.publish` → the stream position
 * - `POST /api/broadcast {type, payload}` → `server.broadcast`
 * - `POST /api/disconnect {user_id?, connection_id?, code?}` (camelCase too) → `server.disconnect`
 * - `POST /test/send {userId|connectionId, type, payload}` → `server.send`
 * - `POST /test/state {topic, data}` → what the snapshot hook answers for `topic`
 * - `GET  /test/messages` → every `onMessage` call `[{connectionId, userId, type, payload, cid, id}]`
 * - `GET  /test/connections` → open connections `[{connectionId, userId}]`
 * - `GET  /test/events` → connect/disconnect hook calls
 * @module
 */
import { createServer } from "../../server/mod.ts";
import type { ConnectionInfo, InboundMessage, ServerOptions } from "../../server/types.ts";

/** The JSON config passed as the first argument. */
interface HostConfig {
  jwtSecret: string;
  apiKey: string;
  rateLimitCapacity?: number;
  rateLimitRefill?: number;
  presence?: boolean;
}

const config = JSON.parse(process.argv[2] ?? "{}") as HostConfig;
if (!config.jwtSecret || !config.apiKey) {
  console.error("usage: bun test/interop/embedded_host.ts '{\"jwtSecret\":\"…\",\"apiKey\":\"…\"}'");
  process.exit(2);
}

const messages: Array<Record<string, unknown>> = [];
const events: Array<Record<string, unknown>> = [];
const users = new Map<string, string>();
const snapshotState = new Map<string, unknown>();

const options: ServerOptions = {
  host: "127.0.0.1",
  port: 0,
  jwt: { secret: config.jwtSecret },
  apiKey: config.apiKey,
  presence: config.presence ?? true,
  rateLimit: {
    ...(config.rateLimitCapacity !== undefined ? { capacity: config.rateLimitCapacity } : {}),
    ...(config.rateLimitRefill !== undefined ? { refillPerSecond: config.rateLimitRefill } : {}),
  },
  hooks: {
    onConnect(conn: ConnectionInfo) {
      users.set(conn.connectionId, conn.userId);
      events.push({ event: "connect", connectionId: conn.connectionId, userId: conn.userId });
    },
    onDisconnect(conn: ConnectionInfo, code: number, reason: string) {
      users.delete(conn.connectionId);
      events.push({ event: "disconnect", connectionId: conn.connectionId, userId: conn.userId, code, reason });
    },
    onMessage(conn: ConnectionInfo, message: InboundMessage) {
      messages.push({
        connectionId: conn.connectionId,
        userId: conn.userId,
        type: message.type,
        payload: message.payload,
        cid: message.correlationId ?? null,
        id: message.id ?? null,
        category: message.category ?? null,
      });
    },
    snapshot(_conn: ConnectionInfo, topic: string) {
      if (!snapshotState.has(topic)) return null;
      return { type: "topic_snapshot", payload: { topic, data: snapshotState.get(topic) } };
    },
  },
};

const server = createServer(options);
const info = await server.listen();

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function connectionsFor(body: Record<string, string | undefined>): string[] {
  const connectionId = body.connectionId ?? body.connection_id;
  const userId = body.userId ?? body.user_id;
  if (connectionId) return users.has(connectionId) ? [connectionId] : [];
  return [...users].filter(([, user]) => user === userId).map(([id]) => id);
}

const control = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/health") return json(200, { status: "ok" });
    if (req.headers.get("authorization") !== `Bearer ${config.apiKey}`) return json(401, { error: "unauthorized" });
    try {
      if (req.method === "GET") {
        if (url.pathname === "/test/messages") return json(200, messages);
        if (url.pathname === "/test/events") return json(200, events);
        if (url.pathname === "/test/connections") {
          return json(200, [...users].map(([connectionId, userId]) => ({ connectionId, userId })));
        }
        return json(404, { error: "not found" });
      }
      const body = (await req.json()) as Record<string, any>;
      switch (url.pathname) {
        case "/api/publish": {
          snapshotState.set(body.topic, body.payload);
          const top = await server.publish(body.topic, body.type, body.payload, body.id ? { id: body.id } : {});
          return json(200, top);
        }
        case "/api/broadcast":
          await server.broadcast(body.type, body.payload);
          return json(200, { ok: true });
        case "/api/disconnect": {
          const closed = await server.disconnect({
            userId: body.userId ?? body.user_id,
            connectionId: body.connectionId ?? body.connection_id,
            code: body.code,
            reason: body.reason,
          });
          return json(200, { disconnected: closed });
        }
        case "/test/send": {
          let sent = 0;
          for (const id of connectionsFor(body)) if (server.send(id, body.type, body.payload)) sent++;
          return json(200, { sent });
        }
        case "/test/state":
          snapshotState.set(body.topic, body.data);
          return json(200, { ok: true });
        default:
          return json(404, { error: "not found" });
      }
    } catch (err) {
      return json(500, { error: String(err) });
    }
  },
});

console.log(JSON.stringify({ ws_url: info.url, http_url: `http://127.0.0.1:${control.port}` }));

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  control.stop(true);
  await Promise.race([server.stop(), Bun.sleep(5000)]);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.stdin.on("end", shutdown);
process.stdin.resume();
