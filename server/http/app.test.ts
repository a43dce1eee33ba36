/**
 * The HTTP app against a real server (createServer on Bun, memory broker, loopback sockets):
 * requests go through `app.request()`, effects are observed by real WebSocket clients.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "../mod.ts";
import { silentLogger } from "../log.ts";
import type { WseServer } from "../types.ts";
import { handshake, subscribe, type TestClient } from "../../test/exe/scenario.ts";
import { API_DISABLED_MESSAGE, createHttpApp } from "./app.ts";

const API_KEY = "http-test-api-key-0123456789";
let server: WseServer;
let wsUrl: string;
let app: ReturnType<typeof createHttpApp>;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = createServer({ host: "127.0.0.1", port: 0, apiKey: API_KEY, logger: silentLogger, maxMessageSize: 64 * 1024 });
  const info = await server.listen();
  wsUrl = info.url.replace("0.0.0.0", "127.0.0.1");
  app = createHttpApp(server, server.options);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.stop();
});

const auth = { authorization: `Bearer ${API_KEY}` };
const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
  app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

async function connect(topics: string[] = []) {
  const { client, ready } = await handshake(wsUrl);
  clients.push(client);
  if (topics.length) expect((await subscribe(client, topics)).p.success).toBe(true);
  return { client, connectionId: ready.p.details.connection_id as string, userId: ready.p.details.user_id as string };
}

const topicName = (prefix: string) => `${prefix}.${crypto.randomUUID().slice(0, 8)}`;

describe("GET /health and /metrics", () => {
  test("health is ok while the broker is healthy", async () => {
    const res = await app.request("/health");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("ok");
    expect(typeof body.connections).toBe("number");
  });

  test("metrics expose connection and per-topic counts in Prometheus text", async () => {
    const topic = topicName("metrics");
    await connect([topic]);
    const res = await app.request("/metrics");
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toMatch(/^wse_connections [1-9]\d*$/m);
    expect(text).toContain(`wse_topic_subscribers{topic="${topic}"} 1`);
    for (const family of ["wse_messages_in_total", "wse_bytes_out_total", "wse_auth_failures_total", "wse_rate_limited_total", "wse_slow_consumer_closes_total", "wse_recovery_hits_total", "wse_recovery_misses_total"]) {
      expect(text).toMatch(new RegExp(`^${family} \\d+`, "m"));
    }
  });
});

describe("GET /metrics with a metrics token", () => {
  const TOKEN = "metrics-token-0123456789";
  const scrape = (target: ReturnType<typeof createHttpApp>, authorization?: string) =>
    target.request("/metrics", { headers: authorization ? { authorization } : {} });

  test("a token is required when configured: 401 without it, with a wrong one, or with the API key", async () => {
    const guarded = createHttpApp(server, { ...server.options, metricsToken: TOKEN });
    for (const authorization of [undefined, "Bearer wrong", `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, `Bearer ${API_KEY}`]) {
      const res = await scrape(guarded, authorization);
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="wse-metrics"');
      const body = await res.json();
      expect(body.error).toBe("UNAUTHORIZED");
      expect(JSON.stringify(body)).not.toContain("wse_");
    }
    const ok = await scrape(guarded, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^wse_connections \d+$/m);
    expect((await guarded.request("/health")).status).toBe(200);
  });

  test("without a token /metrics stays open (the default)", async () => {
    expect(server.options.metricsToken).toBeUndefined();
    expect((await scrape(app)).status).toBe(200);
  });

  test("metricsTopicLimit 0 leaves every topic name out", async () => {
    const topic = topicName("hidden");
    await connect([topic]);
    expect(await (await scrape(app)).text()).toContain(`topic="${topic}"`);
    const anonymous = createHttpApp(server, { ...server.options, metricsTopicLimit: 0 });
    const text = await (await scrape(anonymous)).text();
    expect(text).not.toContain("wse_topic_subscribers{");
    expect(text).toMatch(/^wse_topics [1-9]\d*$/m);
  });
});

describe("API key", () => {
  test("missing or wrong key → 401 JSON", async () => {
    for (const headers of [{} as Record<string, string>, { authorization: "Bearer wrong" }, { authorization: `Basic ${API_KEY}` }, { authorization: `Bearer ${API_KEY}x` }]) {
      const res = await post("/api/publish", { topic: "t", type: "x", payload: {} }, headers);
      expect(res.status).toBe(401);
      expect((await res.json()).error).toBe("UNAUTHORIZED");
    }
    const res = await app.request("/api/presence/t");
    expect(res.status).toBe(401);
  });

  test("no key configured → every /api route answers 403 with a clear message", async () => {
    const open = createHttpApp(server, { ...server.options, apiKey: undefined });
    const res = await open.request("/api/publish", { method: "POST", body: "{}" });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "API_DISABLED", message: API_DISABLED_MESSAGE });
    expect((await open.request("/api/history/x")).status).toBe(403);
    expect((await open.request("/health")).status).toBe(200);
  });
});

describe("POST /api/publish", () => {
  test("publishes to subscribers and answers the stream position", async () => {
    const topic = topicName("pub");
    const { client } = await connect([topic]);
    const res = await post("/api/publish", { topic, type: "price_update", payload: { price: 1.5 } });
    expect(res.status).toBe(200);
    const position = await res.json();
    expect(position).toEqual({ epoch: expect.stringMatching(/^[0-9a-f]{8}$/), offset: 0 });
    const event = await client.waitFor((e) => e.tp === topic, "publication");
    expect(event).toMatchObject({ tp: topic, e: position.epoch, o: 0, t: "price_update", p: { price: 1.5 } });
    const second = await (await post("/api/publish", { topic, type: "price_update", payload: { price: 2 } })).json();
    expect(second.offset).toBe(1);
  });

  test("idempotent on id: a repeat returns the first position and is not delivered twice", async () => {
    const topic = topicName("idem");
    const { client } = await connect([topic]);
    const first = await (await post("/api/publish", { topic, type: "t", payload: { n: 1 }, id: "order-42" })).json();
    const repeat = await (await post("/api/publish", { topic, type: "t", payload: { n: 1 }, id: "order-42" })).json();
    expect(repeat).toEqual(first);
    const other = await (await post("/api/publish", { topic, type: "t", payload: { n: 2 }, id: "order-43" })).json();
    expect(other.offset).toBe(first.offset + 1);
    await client.waitFor((e) => e.tp === topic && e.o === other.offset, "second distinct publication");
    expect(client.frames.filter((e) => e.tp === topic).map((e) => e.o)).toEqual([first.offset, other.offset]);
  });

  test("bad bodies → 400/413 JSON errors", async () => {
    const cases: [unknown, number, string][] = [
      ["{not json", 400, "INVALID_JSON"],
      [[1, 2], 400, "INVALID_BODY"],
      [{ type: "t", payload: {} }, 400, "INVALID_TOPIC"],
      [{ topic: "", type: "t", payload: {} }, 400, "INVALID_TOPIC"],
      [{ topic: "x".repeat(257), type: "t", payload: {} }, 400, "INVALID_TOPIC"],
      [{ topic: "a\u0001b", type: "t", payload: {} }, 400, "INVALID_TOPIC"],
      [{ topic: "t", payload: {} }, 400, "INVALID_TYPE"],
      [{ topic: "t", type: "x" }, 400, "INVALID_PAYLOAD"],
      [{ topic: "t", type: "x", payload: 5 }, 400, "INVALID_PAYLOAD"],
      [{ topic: "t", type: "x", payload: [1] }, 400, "INVALID_PAYLOAD"],
      [{ topic: "t", type: "x", payload: {}, id: 7 }, 400, "INVALID_ID"],
      [{ topic: "t", type: "x", payload: {}, priority: 99 }, 400, "INVALID_PRIORITY"],
      [{ topic: "t", type: "x", payload: "y".repeat(70 * 1024) }, 413, "BODY_TOO_LARGE"],
    ];
    for (const [body, status, code] of cases) {
      const res = await post("/api/publish", body);
      expect({ body: String(body).slice(0, 40), status: res.status }).toEqual({ body: String(body).slice(0, 40), status });
      expect((await res.json()).error).toBe(code);
    }
  });
});

describe("POST /api/broadcast", () => {
  test("reaches every connection, subscribed or not", async () => {
    const a = await connect();
    const b = await connect([topicName("bcast")]);
    const res = await post("/api/broadcast", { type: "maintenance", payload: { in: 5 } });
    expect(res.status).toBe(200);
    for (const { client } of [a, b]) {
      const event = await client.waitFor((e) => e.t === "maintenance", "broadcast");
      expect(event.p).toEqual({ in: 5 });
    }
  });

  test("validates its body", async () => {
    expect((await post("/api/broadcast", { payload: {} })).status).toBe(400);
    expect((await post("/api/broadcast", { type: "x", payload: "text" })).status).toBe(400);
  });
});

describe("POST /api/disconnect", () => {
  test("by connection id, with a close code", async () => {
    const { client, connectionId } = await connect();
    const res = await post("/api/disconnect", { connection_id: connectionId, code: 4000 });
    expect(res.status).toBe(200);
    expect((await res.json()).disconnected).toBe(1);
    expect((await client.waitClosed()).code).toBe(4000);
  });

  test("by user id closes that user's connections", async () => {
    const { client, userId } = await connect();
    const res = await post("/api/disconnect", { user_id: userId });
    expect((await res.json()).disconnected).toBeGreaterThanOrEqual(1);
    expect((await client.waitClosed()).code).toBe(1000);
  });

  test("unknown ids close nothing; bad bodies → 400", async () => {
    expect(await (await post("/api/disconnect", { connection_id: "nope" })).json()).toEqual({ disconnected: 0 });
    expect((await post("/api/disconnect", {})).status).toBe(400);
    expect((await post("/api/disconnect", { user_id: "u", code: 1006 })).status).toBe(400);
  });
});

describe("GET /api/presence/:topic", () => {
  test("lists the members present in a topic", async () => {
    const topic = topicName("room");
    const { client, userId } = await connect();
    client.send({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic], presence: { name: "ann" } } });
    await client.waitFor((e) => e.t === "subscription_update" && e.p?.success_topics?.includes(topic), "subscribe with presence");
    const res = await app.request(`/api/presence/${encodeURIComponent(topic)}`, { headers: auth });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.topic).toBe(topic);
    expect(body.num_users).toBe(1);
    expect(body.num_connections).toBe(1);
    expect(body.members[userId]).toEqual({ data: { name: "ann" }, connections: 1 });
  });

  test("topics with slashes and an empty topic", async () => {
    const res = await app.request("/api/presence/a/b/c", { headers: auth });
    expect(res.status).toBe(200);
    expect((await res.json()).topic).toBe("a/b/c");
    expect((await app.request("/api/presence/", { headers: auth })).status).toBe(404);
  });
});

describe("GET /api/history/:topic", () => {
  test("returns retained publications after `since`, checks the epoch", async () => {
    const topic = topicName("hist");
    const positions = [];
    for (let i = 0; i < 5; i++) positions.push(await (await post("/api/publish", { topic, type: "tick", payload: { i } })).json());
    const epoch = positions[0].epoch;

    const all = await (await app.request(`/api/history/${topic}`, { headers: auth })).json();
    expect(all).toMatchObject({ topic, epoch, offset: 4, epoch_matches: true, truncated: false });
    expect(all.publications.map((p: { offset: number }) => p.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(all.publications[2]).toMatchObject({ epoch, offset: 2, type: "tick", payload: { i: 2 } });

    const since = await (await app.request(`/api/history/${topic}?epoch=${epoch}&since=2`, { headers: auth })).json();
    expect(since.publications.map((p: { offset: number }) => p.offset)).toEqual([3, 4]);

    const limited = await (await app.request(`/api/history/${topic}?since=-1&limit=2`, { headers: auth })).json();
    expect(limited.publications.map((p: { offset: number }) => p.offset)).toEqual([0, 1]);

    const otherEpoch = epoch === "00000000" ? "00000001" : "00000000";
    const stale = await (await app.request(`/api/history/${topic}?epoch=${otherEpoch}&since=1`, { headers: auth })).json();
    expect(stale.epoch_matches).toBe(false);
    expect(stale.publications).toEqual([]);
    expect(stale.epoch).toBe(epoch);
  });

  test("bad query → 400", async () => {
    for (const query of ["epoch=XYZ", "since=abc", "since=-5", "limit=0"]) {
      const res = await app.request(`/api/history/t?${query}`, { headers: auth });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe("INVALID_QUERY");
    }
  });
});

describe("unknown routes", () => {
  test("404 JSON", async () => {
    const res = await app.request("/nope");
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe("NOT_FOUND");
  });
});
