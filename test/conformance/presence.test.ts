/**
 * PROTOCOL.md §5 presence: one `presence_join` per user however many connections it has,
 * `presence_leave` only when its last connection goes, `presence_update` to every topic where the
 * user is present, and `presence_request` → a summary (also over `GET /api/presence/:topic`).
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testWith, uniqueTopic } from "./support.ts";
import { RawWebSocket } from "./raw-socket.ts";
import { startTarget } from "./target.ts";
import { ofType, sleep, type WireClient } from "./wire.ts";

const target = await startTarget({ presence: true });
afterAll(() => target.stop());
const pool = new ClientPool();

/** Presence events of `type` for `topic` seen by `client` from `since`. */
function events(client: WireClient, type: string, topic: string, since = 0) {
  return client.frames
    .slice(since)
    .filter((f) => f.envelope?.t === type && payloadOf(f.envelope).topic === topic)
    .map((f) => f.envelope!);
}

/** Asks for the presence summary of `topic`. */
async function request(client: WireClient, topic: string): Promise<Record<string, any>> {
  const since = client.mark();
  client.send({ c: "WSE", t: "presence_request", p: { topic } });
  const reply = await client.waitFor((f) => f.envelope?.t === "presence" && payloadOf(f.envelope).topic === topic, 5000, since, "presence reply");
  return payloadOf(reply.envelope);
}

/** Lets in-flight presence events arrive before asserting that none came. */
const settle = () => sleep(300);

describe("presence with two connections of one user", () => {
  testWith(target, ["jwt", "presence"], "one join, update everywhere, leave only after the last connection", async () => {
    const topic = uniqueTopic("room");
    const observer = await connectReady(pool, target, { claims: { sub: "observer" } });
    await observer.subscribe([topic]);

    const a1 = await connectReady(pool, target, { claims: { sub: "alice" } });
    await a1.subscribe([topic], { presence: { status: "online" } });
    const join = await observer.waitFor(ofType("presence_join"), 5000, 0, "presence_join");
    expect(join.envelope!.c).toBe("WSE");
    expect(join.envelope!.v).toBe(1);
    expect(payloadOf(join.envelope)).toMatchObject({ topic, user_id: "alice", data: { status: "online" } });

    const a2 = await connectReady(pool, target, { claims: { sub: "alice" } });
    await a2.subscribe([topic], { presence: { status: "online" } });
    await settle();
    expect(events(observer, "presence_join", topic).length).toBe(1);

    const summary = await request(observer, topic);
    expect(summary.topic).toBe(topic);
    expect(summary.num_users).toBe(1);
    expect(summary.num_connections).toBe(2);
    expect(summary.members.alice.connections).toBe(2);
    expect(summary.members.alice.data).toEqual({ status: "online" });
    expect(summary.members.observer).toBeUndefined(); // subscribed without a presence object

    const beforeUpdate = observer.mark();
    a1.send({ c: "WSE", t: "presence_update", p: { data: { status: "away" } } });
    const update = await observer.waitFor(ofType("presence_update"), 5000, beforeUpdate, "presence_update");
    expect(payloadOf(update.envelope)).toMatchObject({ topic, user_id: "alice", data: { status: "away" } });

    await a1.close();
    await settle();
    expect(events(observer, "presence_leave", topic).length).toBe(0);
    const afterOne = await request(observer, topic);
    expect(afterOne.num_users).toBe(1);
    expect(afterOne.num_connections).toBe(1);

    await a2.close();
    const leave = await observer.waitFor(ofType("presence_leave"), 5000, 0, "presence_leave");
    expect(payloadOf(leave.envelope)).toMatchObject({ topic, user_id: "alice" });
    await settle();
    expect(events(observer, "presence_leave", topic).length).toBe(1);
    const empty = await request(observer, topic);
    expect(empty.num_users).toBe(0);
    expect(empty.num_connections).toBe(0);
    expect(empty.members).toEqual({});
  });

  testWith(target, ["jwt", "presence"], "presence_update reaches every topic where the user is present", async () => {
    const [t1, t2] = [uniqueTopic("p1"), uniqueTopic("p2")];
    const observer = await connectReady(pool, target, { claims: { sub: "observer2" } });
    await observer.subscribe([t1, t2]);
    const bob = await connectReady(pool, target, { claims: { sub: "bob" } });
    await bob.subscribe([t1, t2], { presence: { mood: "ok" } });
    await observer.waitForCount(ofType("presence_join"), 2, 5000);
    const since = observer.mark();
    bob.send({ c: "WSE", t: "presence_update", p: { data: { mood: "great" } } });
    const updates = await observer.waitForCount(ofType("presence_update"), 2, 5000, since);
    expect(updates.map((f) => payloadOf(f.envelope).topic).sort()).toEqual([t1, t2].sort());
    for (const u of updates) expect(payloadOf(u.envelope)).toMatchObject({ user_id: "bob", data: { mood: "great" } });
  });

  testWith(target, ["jwt", "presence"], "unsubscribing the last connection leaves", async () => {
    const topic = uniqueTopic("unsub");
    const observer = await connectReady(pool, target, { claims: { sub: "observer3" } });
    await observer.subscribe([topic]);
    const carol = await connectReady(pool, target, { claims: { sub: "carol" } });
    await carol.subscribe([topic], { presence: {} });
    await observer.waitFor(ofType("presence_join"), 5000);
    await carol.unsubscribe([topic]);
    const leave = await observer.waitFor(ofType("presence_leave"), 5000);
    expect(payloadOf(leave.envelope)).toMatchObject({ topic, user_id: "carol" });
    expect(carol.closeInfo).toBeNull();
  });

  testWith(target, ["jwt", "presence"], "a connection dropped without a close frame still leaves", async () => {
    const topic = uniqueTopic("drop");
    const observer = await connectReady(pool, target, { claims: { sub: "observer5" } });
    await observer.subscribe([topic]);
    const { url, headers } = target.withToken(await target.mintToken({ sub: "frank" }));
    const raw = await RawWebSocket.open(url, headers);
    try {
      expect(await raw.until(() => raw.jsonMessages().some((m) => m.t === "server_ready"), 5000)).toBe(true);
      raw.sendText(JSON.stringify({ c: "WSE", t: "client_hello", v: 1, p: { client_version: "raw", protocol_version: 2, features: {} } }));
      raw.sendText(JSON.stringify({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic], presence: { via: "raw" } } }));
      await observer.waitFor(ofType("presence_join"), 5000);
    } finally {
      raw.destroy(); // TCP gone, no close frame
    }
    const leave = await observer.waitFor(ofType("presence_leave"), 10_000);
    expect(payloadOf(leave.envelope)).toMatchObject({ topic, user_id: "frank" });
  });

  testWith(target, ["jwt", "presence", "api"], "GET /api/presence/:topic matches presence_request", async () => {
    const topic = uniqueTopic("http");
    const dave = await connectReady(pool, target, { claims: { sub: "dave" } });
    await dave.subscribe([topic], { presence: { role: "admin" } });
    await settle();
    const res = await target.api(`/api/presence/${encodeURIComponent(topic)}`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ topic, num_users: 1, num_connections: 1 });
    expect(body.members.dave).toEqual({ data: { role: "admin" }, connections: 1 });
    expect(await request(dave, topic)).toEqual(body);
  });

  testWith(target, ["jwt", "presence"], "a presence_update over 4096 bytes gets an error and is not broadcast", async () => {
    const topic = uniqueTopic("bigupd");
    const observer = await connectReady(pool, target, { claims: { sub: "observer6" } });
    await observer.subscribe([topic]);
    const gina = await connectReady(pool, target, { claims: { sub: "gina" } });
    await gina.subscribe([topic], { presence: { s: "ok" } });
    await observer.waitFor(ofType("presence_join"), 5000);
    const since = gina.mark();
    const obsSince = observer.mark();
    gina.send({ c: "WSE", t: "presence_update", p: { data: { blob: "y".repeat(5000) } } });
    await gina.waitForType("error", 5000, since);
    await settle();
    expect(observer.frames.slice(obsSince).filter(ofType("presence_update"))).toEqual([]);
    expect((await request(observer, topic)).members.gina.data).toEqual({ s: "ok" });
  });

  testWith(target, ["jwt", "presence"], "presence data over 4096 bytes is refused and nobody sees a join", async () => {
    const topic = uniqueTopic("big");
    const observer = await connectReady(pool, target, { claims: { sub: "observer4" } });
    await observer.subscribe([topic]);
    const erin = await connectReady(pool, target, { claims: { sub: "erin" } });
    const since = erin.mark();
    const reply = payloadOf(await erin.subscribe([topic], { presence: { blob: "x".repeat(5000) } }));
    await settle();
    const errorFrame = erin.frames.slice(since).some((f) => f.envelope?.t === "error");
    expect(reply.failed_topics?.includes(topic) || errorFrame).toBe(true);
    expect(events(observer, "presence_join", topic)).toEqual([]);
  });
});
