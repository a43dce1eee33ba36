/**
 * End-to-end tests of the Bun host with real WebSockets on loopback (port 0).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { BunWseServer, pathOf } from "./bun.ts";
import { silentLogger } from "./log.ts";
import { createServer } from "./mod.ts";
import { resolveOptions } from "./options.ts";
import { startTestServer, TestClient } from "./test-support.ts";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
async function server(options: Parameters<typeof startTestServer>[0] = {}) {
  const s = await startTestServer(options);
  cleanup.push(() => s.server.stop());
  return s;
}
async function client(url: string): Promise<TestClient> {
  const c = await TestClient.connect(url);
  cleanup.push(() => c.close());
  await c.waitType("server_ready");
  return c;
}

/** Sends an upgrade request without `Sec-WebSocket-Key` (the engine accepts it, Bun cannot upgrade it); returns the status line. */
async function brokenUpgrade(url: string): Promise<string> {
  const { hostname, port, pathname } = new URL(url);
  const { promise, resolve } = Promise.withResolvers<string>();
  let text = "";
  const socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data(_s, chunk) {
        text += chunk.toString();
        if (text.includes("\r\n")) resolve(text.slice(0, text.indexOf("\r\n")));
      },
      close() {
        resolve(text);
      },
    },
  });
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const status = await promise;
  socket.end();
  return status;
}

describe("Bun host", () => {
  test("an upgrade Bun cannot complete gives its connection slot back", async () => {
    const { url } = await server();
    const first = await client(url);
    const firstId = String((first.frames[0]!.env!.p.details as Record<string, unknown>).connection_id);
    expect(await brokenUpgrade(url)).toBe("HTTP/1.1 400 Bad Request");
    const second = await client(url);
    const secondId = String((second.frames[0]!.env!.p.details as Record<string, unknown>).connection_id);
    // Slots are numbered from 0 in the id's suffix; the discarded one is reused by the next connection.
    const slot = (id: string) => Number.parseInt(id.slice(id.lastIndexOf(".") + 1), 36);
    expect(slot(secondId)).toBe(slot(firstId) + 1);
  });

  test("handshake, subscribe, stamped publications over a real socket", async () => {
    const { server: s, url } = await server();
    const c = await client(url);
    await c.hello();
    const reply = await c.subscribe(["prices"]);
    expect(reply.p.success).toBe(true);
    await s.publish("prices", "tick", { v: 1 });
    const [pub] = await c.waitPublications("prices", 1);
    expect(pub!.e).toMatch(/^[0-9a-f]{8}$/);
    expect(pub!.o).toBe(0);
    const text = c.frames.find((f) => f.env?.tp === "prices")!.text!;
    expect(text.startsWith('{"tp":"prices"')).toBe(true);
  });

  test("recovery across a reconnect while publishing continues: no gap, no duplicate", async () => {
    const { server: s, url } = await server();
    const a = await client(url);
    await a.subscribe(["feed"]);
    for (let i = 0; i < 10; i++) await s.publish("feed", "x", { i });
    const seen = await a.waitPublications("feed", 10);
    const last = seen.at(-1)!;
    a.close();
    await a.waitClose();
    for (let i = 10; i < 60; i++) await s.publish("feed", "x", { i });
    // Keep publishing while the new connection recovers.
    let publishing = true;
    let published = 60;
    const pump = (async () => {
      while (publishing && published < 400) {
        await s.publish("feed", "x", { i: published++ });
        if (published % 10 === 0) await Bun.sleep(0);
      }
    })();
    const b = await client(url);
    const reply = await b.subscribe(["feed"], { recover: true, recovery: { feed: { epoch: last.e, offset: last.o } } });
    expect(reply.p.recovered).toBe(true);
    await Bun.sleep(30);
    publishing = false;
    await pump;
    const offsets = (await b.waitPublications("feed", published - 10, 5000)).map((e) => e.o!);
    expect(offsets).toEqual([...Array(published - 10).keys()].map((k) => k + 10));
  }, 20_000);

  test("one encode per variant: json, msgpack, zstd and encrypted clients each get their form", async () => {
    const { server: s, url } = await server({ compressionThreshold: 400 });
    const plain = await client(url);
    const msgpack = await client(`${url}?format=msgpack`);
    const zstd = await client(url);
    await zstd.hello({ zstd: true });
    const enc = await client(url);
    await enc.hello({}, true);
    expect(enc.key).not.toBeNull();
    for (const c of [plain, msgpack, zstd]) await c.subscribe(["v"]);
    await enc.subscribe(["v"], {}, true);
    await s.publish("v", "small", { n: 1 });
    await s.publish("v", "big", { s: "y".repeat(300) });
    for (const c of [plain, msgpack, zstd, enc]) await c.waitPublications("v", 2);
    const kinds = (c: TestClient) => c.frames.filter((f) => f.env?.tp === "v").map((f) => f.prefix);
    expect(kinds(plain)).toEqual(['{"', "C:"]);
    expect(kinds(msgpack)).toEqual(["M:", "M:"]);
    expect(kinds(zstd)).toEqual(['{"', "Z:"]);
    expect(kinds(enc)).toEqual(["E:", "E:"]);
    expect(plain.publications("v")[1]!.p).toEqual({ s: "y".repeat(300) });
    expect(enc.publications("v")[1]!.p).toEqual({ s: "y".repeat(300) });
  });

  test("encrypted bursts: many publications in one turn (small and past the cork buffer) arrive complete, in order, then the direct message sent after them", async () => {
    const { server: s, url } = await server({ compressionThreshold: 1_000_000 });
    const encs = await Promise.all([1, 2, 3].map(() => client(url)));
    const ids: string[] = [];
    for (const enc of encs) {
      await enc.hello({}, true);
      await enc.subscribe(["burst"], {}, true);
      ids.push(JSON.parse(JSON.stringify(enc.frames[0]!.env!.p)).details.connection_id as string);
    }
    const plain = await client(url);
    await plain.subscribe(["burst"]);
    const sizes = Array.from({ length: 120 }, (_, i) => (i % 10 === 9 ? 40_000 : 60 + i));
    for (let i = 0; i < sizes.length; i++) void s.publish("burst", "tick", { i, pad: "x".repeat(sizes[i]!) });
    for (const id of ids) expect(s.send(id, "after", { done: true })).toBe(true);
    for (const enc of encs) {
      const envs = await enc.waitPublications("burst", sizes.length, 10_000);
      expect(envs.map((e) => e.o)).toEqual(sizes.map((_, i) => i));
      expect(envs.map((e) => (e.p.pad as string).length)).toEqual(sizes);
      await enc.waitType("after");
      const order = enc.frames.filter((f) => f.env?.tp === "burst" || f.env?.t === "after").map((f) => f.env!.t);
      expect(order).toEqual([...sizes.map(() => "tick"), "after"]);
      expect(enc.frames.filter((f) => f.env?.tp === "burst").every((f) => f.prefix === "E:")).toBe(true);
    }
    expect((await plain.waitPublications("burst", sizes.length, 10_000)).map((e) => e.o)).toEqual(sizes.map((_, i) => i));
  }, 20_000);

  test("client publishes fanned out to encrypted subscribers from inside another socket's message handler", async () => {
    const { url } = await server({ clientPublish: true });
    const subs = await Promise.all([1, 2, 3].map(() => client(url)));
    for (const c of subs) {
      await c.hello({}, true);
      await c.subscribe(["chat"], {}, true);
    }
    const publisher = subs[0]!;
    const messages = Array.from({ length: 30 }, (_, i) => ({ c: "U", t: "publish", p: { topic: "chat", type: "say", payload: { i } } }));
    publisher.send({ c: "WSE", t: "batch", p: { messages: messages.slice(0, 15) } }, true);
    for (const m of messages.slice(15)) publisher.send(m, true);
    publisher.send({ c: "WSE", t: "ping", p: { timestamp: Date.now() } }, true);
    for (const c of subs) {
      const envs = await c.waitPublications("chat", 30, 10_000);
      expect(envs.map((e) => e.p.i)).toEqual(messages.map((_, i) => i));
      expect(envs.map((e) => e.o)).toEqual(messages.map((_, i) => i));
    }
    await publisher.waitType("PONG");
  }, 20_000);

  test("broadcast and direct send reach the right connections", async () => {
    const { server: s, url } = await server();
    const a = await client(url);
    const b = await client(url);
    await s.broadcast("notice", { all: true });
    await a.waitType("notice");
    await b.waitType("notice");
    const id = JSON.parse(JSON.stringify(a.frames[0]!.env!.p)).details.connection_id as string;
    expect(s.send(id, "direct", { hi: 1 })).toBe(true);
    expect((await a.waitType("direct")).p).toEqual({ hi: 1 });
    expect(s.send("nope", "direct", {})).toBe(false);
    expect(await s.disconnect({ connectionId: id, code: 4003 })).toBe(1);
    expect((await a.waitClose()).code).toBe(4003);
  });

  test("drain closes clients with 1012, refuses new upgrades, and stop() ends", async () => {
    const { server: s, url } = await server({ drain: { batchSize: 2, intervalMs: 10 } });
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => client(url)));
    const drained = s.drain();
    const codes = await Promise.all(clients.map((c) => c.waitClose(5000).then((x) => x.code)));
    await drained;
    expect(codes).toEqual([1012, 1012, 1012, 1012, 1012]);
    expect(s.healthy).toBe(false);
    await expect(TestClient.connect(url)).rejects.toThrow();
  });

  test("embeds in an existing Bun.serve next to the application's own routes", async () => {
    const wse = createServer({ path: "/live", logger: silentLogger });
    const app = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (new URL(req.url).pathname === "/hello" ? new Response("app") : wse.fetch(req, srv)),
      websocket: wse.websocket,
    });
    cleanup.push(async () => {
      await wse.stop();
      app.stop(true);
    });
    expect(await (await fetch(`http://127.0.0.1:${app.port}/hello`)).text()).toBe("app");
    expect((await fetch(`http://127.0.0.1:${app.port}/health`)).status).toBe(200);
    const c = await client(`ws://127.0.0.1:${app.port}/live`);
    await c.subscribe(["e"]);
    await wse.publish("e", "x", { ok: true });
    expect((await c.waitPublications("e", 1))[0]!.p).toEqual({ ok: true });
  });

  test("an unreachable connection limit answers 503 before the upgrade", async () => {
    const s = new BunWseServer(resolveOptions({ host: "127.0.0.1", port: 0, maxConnections: 1, logger: silentLogger }));
    cleanup.push(() => s.stop());
    const { url } = await s.listen();
    await client(url);
    await expect(TestClient.connect(url)).rejects.toThrow();
    expect(s.stats().connections).toBe(1);
  });
});

describe("embedding API", () => {
  test("?topics= subscribes at connect; history() and presence() answer", async () => {
    const { server: s, url } = await server();
    const c = await TestClient.connect(`${url}?topics=news,sport&client_version=2.0.7&protocol_version=1`);
    cleanup.push(() => c.close());
    const reply = await c.waitType("subscription_update");
    expect(reply.p.success_topics).toEqual(["news", "sport"]);
    const first = await s.publish("news", "headline", { n: 1 }, { id: "fixed-id" });
    const again = await s.publish("news", "headline", { n: 1 }, { id: "fixed-id" });
    expect(again).toEqual(first); // idempotent on id
    await s.publish("news", "headline", { n: 2 });
    await c.waitPublications("news", 2);
    const h = await s.history("news", { since: 0 });
    expect(h.publications.map((p) => p.offset)).toEqual([1]);
    expect(h.epochMatches).toBe(true);
    expect((await s.history("news", { epoch: "00000000" })).publications).toEqual([]);
    await expect(s.publish("", "x", {})).rejects.toThrow("topic");
    await expect(s.publish("news", "x", [] as unknown as object)).rejects.toThrow("payload");
    c.send({ t: "subscription_update", p: { topics: ["room"], presence: { name: "c" } } });
    await c.waitFor((r) => r.env?.t === "presence_join");
    const presence = await s.presence("room");
    expect(presence.num_users).toBe(1);
    expect(Object.values(presence.members)[0]).toEqual({ data: { name: "c" }, connections: 1 });
    const m = s.metrics();
    expect(m.connections).toBe(1);
    expect(m.publications).toBe(2);
    expect(m.topics.news).toBe(1);
  });
});

describe("Bun host errors", () => {
  test("listen() on a port in use rejects instead of throwing", async () => {
    const { server: first } = await server();
    const { port } = await first.listen();
    const second = new BunWseServer(resolveOptions({ host: "127.0.0.1", port, logger: silentLogger }));
    cleanup.push(() => second.stop());
    const attempt = second.listen();
    expect(attempt).toBeInstanceOf(Promise);
    await expect(attempt).rejects.toThrow();
  });
});

test("pathOf matches URL.pathname for request URLs", () => {
  for (const url of ["http://h:1/wse", "http://h:1/wse?token=a/b", "http://h/", "http://h", "http://h/a/b#x?y", "ws://[::1]:5007/wse?x=1"]) {
    expect(pathOf(url)).toBe(new URL(url).pathname);
  }
});

test("HTTP API failures are logged through the server's logger on Bun", async () => {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  const logger = { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") };
  const s = createServer({ host: "127.0.0.1", port: 0, apiKey: "bun-log-test-key", logger });
  cleanup.push(() => s.stop());
  const { port } = await s.listen();
  await s.engine.broker.close(); // the broker now refuses every publish
  const res = await fetch(`http://127.0.0.1:${port}/api/publish`, {
    method: "POST",
    headers: { authorization: "Bearer bun-log-test-key", "content-type": "application/json" },
    body: JSON.stringify({ topic: "t", type: "x", payload: {} }),
  });
  expect(res.status).toBe(503);
  const logged = lines.find((l) => l.message === "http api unavailable");
  expect(logged?.level).toBe("warn");
  expect(String((logged?.fields?.error as Error | undefined)?.message)).toContain("broker is closed");
});
