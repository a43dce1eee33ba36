/**
 * The HTTP side as a WebSocket client sees it (issue 3, HTTP API): `/api/*` needs the API key,
 * `POST /api/broadcast` reaches every connection unstamped, `POST /api/disconnect` closes a user's
 * connections with the given code, `GET /api/history/:topic` agrees with what subscribers got.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testSpawned, testWith, uniqueTopic } from "./support.ts";
import { startTarget, type Target } from "./target.ts";
import { onTopic, sleep, WireClient } from "./wire.ts";

const target = await startTarget({});
afterAll(() => target.stop());
const pool = new ClientPool();

describe("HTTP API", () => {
  testWith(target, [], "GET /health answers 200 while serving", async () => {
    const res = await fetch(`${target.httpUrl}/health`);
    expect(res.status).toBe(200);
  });

  testWith(target, [], "GET /metrics answers Prometheus text", async () => {
    const res = await fetch(`${target.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type") ?? "").toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(/^# (HELP|TYPE) /m);
    expect(text).toMatch(/^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/m);
  });

  testWith(target, ["api"], "/api/* without the key or with a wrong key is refused and publishes nothing", async () => {
    const topic = uniqueTopic("nokey");
    const body = JSON.stringify({ topic, type: "x", payload: {} });
    const none = await fetch(`${target.httpUrl}/api/publish`, { method: "POST", body, headers: { "content-type": "application/json" } });
    expect([401, 403]).toContain(none.status);
    const wrong = await fetch(`${target.httpUrl}/api/publish`, { method: "POST", body, headers: { "content-type": "application/json", authorization: "Bearer wrong" } });
    expect([401, 403]).toContain(wrong.status);
    const first = await target.publish(topic, "x", {});
    expect(first.offset).toBe(0);
  });

  testWith(target, ["jwt", "api"], "POST /api/broadcast reaches every connection, without a topic stamp", async () => {
    const a = await connectReady(pool, target, { claims: { sub: "b1" } });
    const b = await connectReady(pool, target, { claims: { sub: "b2" } });
    const res = await target.api("/api/broadcast", { method: "POST", body: JSON.stringify({ type: "announcement", payload: { msg: "hello all" } }) });
    expect(res.status).toBe(200);
    for (const c of [a, b]) {
      const env = await c.waitForType("announcement", 5000);
      expect(env.p).toEqual({ msg: "hello all" });
      expect(env.tp).toBeUndefined();
      expect(env.c).toBe("U");
    }
  });

  testWith(target, ["jwt", "api"], "POST /api/disconnect closes every connection of a user with the given code", async () => {
    const x1 = await connectReady(pool, target, { claims: { sub: "kick-me" } });
    const x2 = await connectReady(pool, target, { claims: { sub: "kick-me" } });
    const other = await connectReady(pool, target, { claims: { sub: "stay" } });
    const res = await target.api("/api/disconnect", { method: "POST", body: JSON.stringify({ user_id: "kick-me", code: 4403 }) });
    expect(res.status).toBe(200);
    expect((await x1.waitClose(5000)).code).toBe(4403);
    expect((await x2.waitClose(5000)).code).toBe(4403);
    await sleep(100);
    expect(other.closeInfo).toBeNull();
  });

  testWith(target, ["jwt", "api"], "POST /api/disconnect by connection_id closes just that connection", async () => {
    const y1 = await connectReady(pool, target, { claims: { sub: "two-tabs" } });
    const y2 = await connectReady(pool, target, { claims: { sub: "two-tabs" } });
    const id = payloadOf(y1.handshakeResult.ready).details.connection_id;
    const res = await target.api("/api/disconnect", { method: "POST", body: JSON.stringify({ connection_id: id }) });
    expect(res.status).toBe(200);
    await y1.waitClose(5000);
    await sleep(100);
    expect(y2.closeInfo).toBeNull();
  });

  testWith(target, ["jwt", "api"], "GET /api/history/:topic matches what a subscriber received", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("hist");
    await client.subscribe([topic]);
    for (let i = 0; i < 4; i++) await target.publish(topic, "h", { i });
    const got = await client.waitForCount(onTopic(topic), 4);
    const res = await target.api(`/api/history/${encodeURIComponent(topic)}?since=1`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.epoch).toBe(got[0]!.envelope!.e);
    expect(body.offset).toBe(3);
    expect(body.publications.map((p: { offset: number }) => p.offset)).toEqual([2, 3]);
    expect(body.publications.map((p: { id: string }) => p.id)).toEqual([got[2]!.envelope!.id, got[3]!.envelope!.id]);
  });
});

describe("connection limit", () => {
  let small: Target | null = null;
  afterAll(async () => {
    await small?.stop();
  });

  testSpawned("beyond WSE_MAX_CONNECTIONS the upgrade is refused; a freed slot is usable again", async () => {
    small = await startTarget({ extraEnv: { WSE_MAX_CONNECTIONS: "3" } });
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await connectReady(pool, small, { claims: { sub: `slot-${i}` } }));
    const { url, headers } = small.withToken(await small.mintToken({ sub: "one-too-many" }));
    let refused = false;
    try {
      const extra = await WireClient.connect(url, { headers, timeoutMs: 3000 });
      refused = !!(await extra.waitClose(3000).catch(() => null));
    } catch {
      refused = true;
    }
    expect(refused).toBe(true);
    await held[0]!.close();
    await sleep(200);
    const again = await connectReady(pool, small, { claims: { sub: "slot-again" } });
    expect(again.closeInfo).toBeNull();
  });
});
