/**
 * PROTOCOL.md §1 (wse_topics ACL) and §4 (subscribe/unsubscribe replies, publication stamps,
 * client publish): what a subscriber sees on the wire.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testSpawned, testWith, uniqueTopic } from "./support.ts";
import { startTarget, type Target } from "./target.ts";
import { isoSkewMs, onTopic, sleep, type WireClient } from "./wire.ts";

const target = await startTarget({ clientPublish: true });
afterAll(() => target.stop());
const pool = new ClientPool();

const HEX8 = /^[0-9a-f]{8}$/;

/** Publishes a marker on a private topic and waits for it: everything sent before it has arrived. */
async function barrier(client: WireClient): Promise<void> {
  const topic = uniqueTopic("barrier");
  await client.subscribe([topic]);
  await target.publish(topic, "barrier", {});
  await client.waitFor(onTopic(topic), 5000);
}

describe("subscribe / unsubscribe replies", () => {
  testWith(target, ["jwt"], "subscribe replies with every documented field", async () => {
    const client = await connectReady(pool, target);
    const [a, b] = [uniqueTopic("a"), uniqueTopic("b")];
    const reply = await client.subscribe([a, b]);
    expect(reply.c).toBe("WSE");
    expect(reply.v).toBe(1);
    const p = payloadOf(reply);
    expect(p.action).toBe("subscribe");
    expect(p.success).toBe(true);
    expect([...p.success_topics].sort()).toEqual([a, b].sort());
    expect(p.failed_topics).toEqual([]);
    expect(p.errors).toEqual({});
    expect(typeof p.recoverable).toBe("boolean");
    expect(typeof p.recovered).toBe("boolean");
  });

  testWith(target, ["jwt"], "the alias t:\"subscription\" is accepted", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("alias");
    const since = client.mark();
    client.send({ c: "WSE", t: "subscription", p: { action: "subscribe", topics: [topic] } });
    const reply = await client.waitForType("subscription_update", 5000, since);
    expect(payloadOf(reply).success_topics).toEqual([topic]);
  });

  testWith(target, ["jwt"], "partial failure still replies, with failed_topics and a reason per topic", async () => {
    const client = await connectReady(pool, target);
    const good = uniqueTopic("good");
    const tooLong = "t".repeat(257);
    const control = "bad\u0001topic";
    const reply = await client.subscribe([good, "", tooLong, control]);
    const p = payloadOf(reply);
    expect(p.action).toBe("subscribe");
    expect(p.success).toBe(false);
    expect(p.success_topics).toEqual([good]);
    expect([...p.failed_topics].sort()).toEqual(["", tooLong, control].sort());
    for (const t of ["", tooLong, control]) {
      expect(typeof p.errors[t]).toBe("string");
      expect(p.errors[t].length).toBeGreaterThan(0);
    }
    // The good topic works despite its failed neighbours.
    await target.publish(good, "still_ok", {});
    await client.waitFor(onTopic(good), 5000);
  });

  testWith(target, ["jwt"], "a 256-byte topic name is accepted (the limit is inclusive)", async () => {
    const client = await connectReady(pool, target);
    const topic = `${uniqueTopic("long")}.`.padEnd(256, "x");
    expect(new TextEncoder().encode(topic).length).toBe(256);
    const p = payloadOf(await client.subscribe([topic]));
    expect(p.success_topics).toEqual([topic]);
  });

  testWith(target, ["jwt"], "no more than 128 topics per connection", async () => {
    const client = await connectReady(pool, target);
    const topics = Array.from({ length: 130 }, (_, i) => `${uniqueTopic("many")}.${i}`);
    const p = payloadOf(await client.subscribe(topics));
    expect(p.success).toBe(false);
    expect(p.success_topics.length).toBeLessThanOrEqual(128);
    expect(p.success_topics.length + p.failed_topics.length).toBe(130);
  });

  testWith(target, ["jwt", "api"], "subscribing twice to a topic still delivers each publication once", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("twice");
    await client.subscribe([topic]);
    const again = payloadOf(await client.subscribe([topic, topic]));
    expect(again.failed_topics).toEqual([]);
    await target.publish(topic, "once", {});
    await barrier(client);
    expect(client.frames.filter(onTopic(topic)).length).toBe(1);
  });

  testWith(target, ["jwt", "api"], "?topics= plus the explicit subscribe the Python client sends after it: each publication once", async () => {
    const topic = uniqueTopic("qtopics");
    const client = await connectReady(pool, target, { query: { topics: `${topic},${uniqueTopic("other")}` } });
    const reply = payloadOf(await client.subscribe([topic]));
    expect(reply.failed_topics).toEqual([]);
    await target.publish(topic, "once", {});
    await barrier(client);
    expect(client.frames.filter(onTopic(topic)).length).toBe(1);
  });

  testWith(target, ["jwt", "api"], "a subscribe sent while the ?topics= initial subscription is in flight still delivers (100 connections)", async () => {
    const lost: string[] = [];
    for (let i = 0; i < 100; i++) {
      const client = await connectReady(pool, target, { query: { topics: `${uniqueTopic("init-a")},${uniqueTopic("init-b")}` } });
      const topic = uniqueTopic(`later${i}`);
      const reply = payloadOf(await client.subscribe([topic]));
      expect(reply.success_topics).toEqual([topic]);
      await target.publish(topic, "first", { i });
      if (!(await client.waitFor(onTopic(topic), 3000).catch(() => null))) lost.push(topic);
      await client.close();
    }
    expect(lost).toEqual([]);
  }, 120_000);

  testWith(target, ["jwt", "api"], "a publication made right after the subscribe reply is delivered (100 fresh topics)", async () => {
    const client = await connectReady(pool, target);
    const lost: string[] = [];
    for (let i = 0; i < 100; i++) {
      const topic = uniqueTopic(`fresh${i}`);
      await client.subscribe([topic]);
      await target.publish(topic, "first", { i });
      const got = await client.waitFor(onTopic(topic), 3000).catch(() => null);
      if (!got) lost.push(topic);
    }
    expect(lost).toEqual([]);
  }, 60_000);

  testWith(target, ["jwt"], "unsubscribe replies and stops delivery", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("unsub");
    await client.subscribe([topic]);
    await target.publish(topic, "before", {});
    await client.waitFor(onTopic(topic), 5000);
    const reply = await client.unsubscribe([topic]);
    const p = payloadOf(reply);
    expect(p.action).toBe("unsubscribe");
    expect(p.success).toBe(true);
    expect(p.success_topics).toEqual([topic]);
    const since = client.mark();
    await target.publish(topic, "after", {});
    await barrier(client);
    expect(client.frames.slice(since).filter(onTopic(topic))).toEqual([]);
  });
});

describe("publication stamps", () => {
  testWith(target, ["jwt", "api"], "every publication carries tp, e, o and a current ts; offsets count from 0", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("stamp");
    await client.subscribe([topic]);
    const positions: { epoch: string; offset: number }[] = [];
    for (let i = 0; i < 3; i++) positions.push(await target.publish(topic, "price_update", { i, price: 100 + i }));
    const frames = await client.waitForCount(onTopic(topic), 3, 5000);
    expect(positions.map((p) => p.offset)).toEqual([0, 1, 2]);
    frames.forEach((f, i) => {
      const env = f.envelope!;
      expect(env.tp).toBe(topic);
      expect(env.e).toMatch(HEX8);
      expect(env.e).toBe(positions[i]!.epoch);
      expect(env.o).toBe(i);
      expect(env.c).toBe("U");
      expect(env.t).toBe("price_update");
      expect(env.v).toBe(1);
      expect(typeof env.id).toBe("string");
      expect(isoSkewMs(env.ts)).toBeLessThan(5000);
      expect(env.p).toEqual({ i, price: 100 + i });
    });
  });

  testWith(target, ["jwt", "api"], "a publication keeps its priority, correlation id and message id", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("pri");
    await client.subscribe([topic]);
    const res = await target.api("/api/publish", {
      method: "POST",
      body: JSON.stringify({ topic, type: "alert", payload: { level: "high" }, priority: 10, cid: "corr-7", id: "msg-id-7" }),
    });
    expect(res.status).toBe(200);
    const env = (await client.waitFor(onTopic(topic), 5000)).envelope!;
    expect(env.pri).toBe(10);
    expect(env.cid).toBe("corr-7");
    expect(env.id).toBe("msg-id-7");
  });

  testWith(target, ["jwt", "api"], "a snapshot-typed publication gets category S", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("cat");
    await client.subscribe([topic]);
    await target.publish(topic, "board_snapshot", { rows: [] });
    const f = await client.waitFor(onTopic(topic), 5000);
    expect(f.envelope!.c).toBe("S");
  });

  testWith(target, ["jwt", "api"], "two subscribers get the same publication (same id, same position)", async () => {
    const [x, y] = [await connectReady(pool, target), await connectReady(pool, target)];
    const topic = uniqueTopic("fan");
    await x.subscribe([topic]);
    await y.subscribe([topic]);
    await target.publish(topic, "fan_event", { n: 1 });
    const [fx, fy] = [await x.waitFor(onTopic(topic)), await y.waitFor(onTopic(topic))];
    expect(fx.envelope!.id).toBe(fy.envelope!.id);
    expect(fx.envelope!.o).toBe(fy.envelope!.o);
  });

  testWith(target, ["api"], "POST /api/publish is idempotent on id", async () => {
    const topic = uniqueTopic("idem");
    const first = await target.publish(topic, "once", { a: 1 }, "idem-1");
    const again = await target.publish(topic, "once", { a: 1 }, "idem-1");
    expect(again).toEqual(first);
    const next = await target.publish(topic, "once", { a: 2 }, "idem-2");
    expect(next.offset).toBe(first.offset + 1);
  });
});

describe("wse_topics ACL", () => {
  const acl = { wse_topics: { allow: ["public.*", "chat.?"], deny: ["public.secret*"] } };

  testWith(target, ["jwt"], "allow globs with * and ?, deny wins, everything else refused", async () => {
    const client = await connectReady(pool, target, { claims: { sub: "acl-user", ...acl } });
    const allowed = ["public.news", "public.a.b", "chat.x"];
    const denied = ["public.secret", "public.secret.plans", "chat.xy", "private.x", "chat."];
    const p = payloadOf(await client.subscribe([...allowed, ...denied]));
    expect(p.success).toBe(false);
    expect([...p.success_topics].sort()).toEqual([...allowed].sort());
    expect([...p.failed_topics].sort()).toEqual([...denied].sort());
    for (const t of denied) expect(typeof p.errors[t]).toBe("string");
  });

  testWith(target, ["jwt"], "an empty allow list allows everything not denied", async () => {
    const client = await connectReady(pool, target, { claims: { wse_topics: { allow: [], deny: ["x.*"] } } });
    const p = payloadOf(await client.subscribe(["y.z", "x.a"]));
    expect(p.success_topics).toEqual(["y.z"]);
    expect(p.failed_topics).toEqual(["x.a"]);
  });

  testWith(target, ["jwt", "api"], "a denied topic delivers nothing", async () => {
    const client = await connectReady(pool, target, { claims: acl });
    const topic = `private.${uniqueTopic("d")}`;
    await client.subscribe([topic]);
    const since = client.mark();
    await target.publish(topic, "secret", { s: 1 });
    await barrier2(client);
    expect(client.frames.slice(since).filter(onTopic(topic))).toEqual([]);
  });

  testWith(target, ["jwt", "client-publish"], "client publish to an allowed topic goes through under the same ACL", async () => {
    const publisher = await connectReady(pool, target, { claims: { sub: "pub-ok", ...acl } });
    const observer = await connectReady(pool, target, { claims: { sub: "obs-ok" } });
    const topic = `public.${uniqueTopic("ok")}`;
    await observer.subscribe([topic]);
    const since = publisher.mark();
    publisher.send({ t: "publish", p: { topic, type: "msg", payload: { x: 2 } }, cid: "allow-1" });
    const ack = await publisher.waitForType("publish_ack", 5000, since);
    expect(ack.cid).toBe("allow-1");
    const got = await observer.waitFor(onTopic(topic), 5000);
    expect(got.envelope!.p).toEqual({ x: 2 });
  });

  testWith(target, ["jwt", "client-publish"], "client publish to a denied topic is refused and not delivered", async () => {
    const publisher = await connectReady(pool, target, { claims: { sub: "pub", ...acl } });
    const observer = await connectReady(pool, target, { claims: { sub: "obs" } });
    const topic = `private.${uniqueTopic("p")}`;
    await observer.subscribe([topic]);
    const since = publisher.mark();
    publisher.send({ t: "publish", p: { topic, type: "msg", payload: { x: 1 } }, cid: "deny-1" });
    const err = await publisher.waitForType("error", 5000, since);
    expect(typeof payloadOf(err).code).toBe("string");
    await sleep(200);
    expect(observer.frames.filter(onTopic(topic))).toEqual([]);
    expect(publisher.frames.slice(since).some((f) => f.envelope?.t === "publish_ack")).toBe(false);
  });
});

/** A barrier for a client whose ACL only allows public.* topics. */
async function barrier2(client: WireClient): Promise<void> {
  const topic = `public.${uniqueTopic("barrier")}`;
  await client.subscribe([topic]);
  await target.publish(topic, "barrier", {});
  await client.waitFor(onTopic(topic), 5000);
}

describe("client publish", () => {
  testWith(target, ["jwt", "client-publish"], "publish → publish_ack echoing cid, and fan-out with the stamp", async () => {
    const publisher = await connectReady(pool, target, { claims: { sub: "writer" } });
    const reader = await connectReady(pool, target, { claims: { sub: "reader" } });
    const topic = uniqueTopic("chat");
    await reader.subscribe([topic]);
    const since = publisher.mark();
    publisher.send({ t: "publish", p: { topic, type: "message", payload: { text: "hi" } }, cid: "cid-42" });
    const ack = await publisher.waitForType("publish_ack", 5000, since);
    expect(ack.cid).toBe("cid-42");
    const p = payloadOf(ack);
    expect(p.topic).toBe(topic);
    expect(p.epoch).toMatch(HEX8);
    expect(p.offset).toBe(0);
    const got = (await reader.waitFor(onTopic(topic), 5000)).envelope!;
    expect(got.t).toBe("message");
    expect(got.p).toEqual({ text: "hi" });
    expect(got.e).toBe(p.epoch);
    expect(got.o).toBe(0);
  });
});

describe("client publish switched off (the default)", () => {
  let closed: Target | null = null;
  afterAll(async () => {
    await closed?.stop();
  });

  testSpawned("publish → an error echoing cid, and nothing is delivered", async () => {
    closed = await startTarget({ clientPublish: false });
    const publisher = await connectReady(pool, closed, { claims: { sub: "nopub" } });
    const reader = await connectReady(pool, closed, { claims: { sub: "reader" } });
    const topic = uniqueTopic("nopub");
    await reader.subscribe([topic]);
    const since = publisher.mark();
    publisher.send({ t: "publish", p: { topic, type: "message", payload: {} }, cid: "off-1" });
    const err = await publisher.waitForType("error", 5000, since);
    expect(typeof payloadOf(err).code).toBe("string");
    expect(err.cid).toBe("off-1");
    await closed.publish(topic, "marker", {});
    const first = await reader.waitFor(onTopic(topic), 5000);
    expect(first.envelope!.t).toBe("marker");
    expect(first.envelope!.o).toBe(0);
  });
});
