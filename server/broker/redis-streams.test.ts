import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { startRedisServer, type RedisTestServer } from "../../scripts/redis-test-server.ts";
import { createRedisBroker } from "./redis.ts";
import { data, publicationsOf, quietLogger, recordingBrokers, waitFor } from "./redis-test-kit.ts";

let redis: RedisTestServer;
let admin: Redis;

beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

describe("Redis broker: fan-out and streams", () => {
  test("publish on one node reaches every node with interest, and only those", async () => {
    const [a, b, c] = await recordingBrokers(redis.url, 3);
    try {
      await a.broker.subscribe(["chat"]);
      await b.broker.subscribe(["chat"]);
      const published = await c.broker.publish("chat", data("message", { text: "hi" }));
      expect(published.offset).toBe(0);
      expect(published.epoch).toMatch(/^[0-9a-f]{8}$/);
      await waitFor(() => publicationsOf(a.events, "chat").length === 1 && publicationsOf(b.events, "chat").length === 1);
      expect(publicationsOf(a.events, "chat")[0]).toEqual(published);
      expect(publicationsOf(b.events, "chat")[0].data.payload).toEqual({ text: "hi" });
      // c has no interest in "chat": give the message time to arrive if it were going to.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(publicationsOf(c.events, "chat")).toHaveLength(0);
    } finally {
      for (const node of [a, b, c]) await node.broker.close();
    }
  }, 20_000);

  test("interest is a set: a repeated subscribe is harmless, one unsubscribe ends it", async () => {
    const [a, b] = await recordingBrokers(redis.url, 2);
    try {
      // Concurrent subscribes of one topic all resolve only after Redis confirmed it.
      await Promise.all([a.broker.subscribe(["room"]), a.broker.subscribe(["room", "room"])]);
      await b.broker.publish("room", data("m", 1));
      await waitFor(() => publicationsOf(a.events, "room").length === 1, 5_000, "first publication");
      await a.broker.unsubscribe(["room"]);
      await b.broker.publish("room", data("m", 2));
      await a.broker.subscribe(["marker"]);
      await b.broker.publish("marker", data("m", 3));
      // Same publisher connection, same subscriber connection: "marker" arrives after "room" would.
      await waitFor(() => publicationsOf(a.events, "marker").length === 1, 5_000, "marker");
      expect(publicationsOf(a.events, "room")).toHaveLength(1);
      await a.broker.unsubscribe(["never-subscribed"]);
    } finally {
      await a.broker.close();
      await b.broker.close();
    }
  }, 20_000);

  test("concurrent publishers on three nodes get contiguous offsets, delivered in offset order everywhere", async () => {
    const nodes = await recordingBrokers(redis.url, 3);
    try {
      for (const node of nodes) await node.broker.subscribe(["ticks"]);
      const perNode = 200;
      const results = await Promise.all(
        nodes.map((node, n) =>
          Promise.all(Array.from({ length: perNode }, (_, i) => node.broker.publish("ticks", data("tick", { n, i }))))
        ),
      );
      const offsets = results.flat().map((publication) => publication.offset).sort((x, y) => x - y);
      expect(offsets).toEqual(Array.from({ length: 3 * perNode }, (_, i) => i));
      expect(new Set(results.flat().map((publication) => publication.epoch)).size).toBe(1);
      for (const node of nodes) {
        await waitFor(() => publicationsOf(node.events, "ticks").length === 3 * perNode, 10_000, "all ticks");
        expect(publicationsOf(node.events, "ticks").map((publication) => publication.offset)).toEqual(
          Array.from({ length: 3 * perNode }, (_, i) => i),
        );
      }
      // Each node's own publications keep their order among themselves.
      const fromNode0 = publicationsOf(nodes[1].events, "ticks").filter((p) => (p.data.payload as { n: number }).n === 0);
      expect(fromNode0.map((p) => (p.data.payload as { i: number }).i)).toEqual(Array.from({ length: perNode }, (_, i) => i));
    } finally {
      for (const node of nodes) await node.broker.close();
    }
  }, 30_000);

  test("history and top resolve only after every publication up to their top reached the handler", async () => {
    const [a, b, c] = await recordingBrokers(redis.url, 3);
    try {
      await a.broker.subscribe(["seam"]);
      let publishing = true;
      const publishers = [b, c].map(async (node) => {
        for (let i = 0; publishing && i < 3_000; i++) await node.broker.publish("seam", data("n", i));
      });
      let checks = 0;
      for (let round = 0; round < 200; round++) {
        const read = round % 2 ? (await a.broker.history("seam", -1, 0)).top : await a.broker.top("seam");
        const delivered = publicationsOf(a.events, "seam");
        const lastDelivered = delivered.length ? delivered[delivered.length - 1]!.offset : -1;
        expect(lastDelivered).toBeGreaterThanOrEqual(read.offset);
        if (read.offset >= 0) checks++;
      }
      publishing = false;
      await Promise.all(publishers);
      expect(checks).toBeGreaterThan(100);
    } finally {
      for (const node of [a, b, c]) await node.broker.close();
    }
  }, 30_000);

  test("history, top, limit and truncation by size", async () => {
    const [a, b] = await recordingBrokers(redis.url, 2, { historySize: 5 });
    try {
      const empty = await b.broker.top("hist");
      expect(empty.offset).toBe(-1);
      const same = await a.broker.top("hist");
      expect(same).toEqual(empty);
      for (let i = 0; i < 8; i++) await (i % 2 ? a : b).broker.publish("hist", data("n", i));
      expect(await a.broker.top("hist")).toEqual({ epoch: empty.epoch, offset: 7 });

      const recent = await b.broker.history("hist", 4, 100);
      expect(recent.truncated).toBe(false);
      expect(recent.top).toEqual({ epoch: empty.epoch, offset: 7 });
      expect(recent.publications.map((p) => [p.offset, p.data.payload])).toEqual([[5, 5], [6, 6], [7, 7]]);
      expect(recent.publications[0].epoch).toBe(empty.epoch);

      const limited = await b.broker.history("hist", 2, 2);
      expect(limited.truncated).toBe(false);
      expect(limited.publications.map((p) => p.offset)).toEqual([3, 4]);

      const tooOld = await a.broker.history("hist", 0, 100);
      expect(tooOld.truncated).toBe(true);
      expect(tooOld.publications.map((p) => p.offset)).toEqual([3, 4, 5, 6, 7]);

      const all = await a.broker.history("hist", -1, 100);
      expect(all.truncated).toBe(true);

      const upToDate = await a.broker.history("hist", 7, 100);
      expect(upToDate).toEqual({ top: { epoch: empty.epoch, offset: 7 }, publications: [], truncated: false });
    } finally {
      await a.broker.close();
      await b.broker.close();
    }
  }, 20_000);

  test("history TTL: expired publications count as not retained; the meta outlives them", async () => {
    const [a] = await recordingBrokers(redis.url, 1, { historyTtlMs: 300, metaTtlMs: 60_000 });
    try {
      const first = await a.broker.publish("ttl", data("n", 0));
      await new Promise((resolve) => setTimeout(resolve, 450));
      const expired = await a.broker.history("ttl", -1, 10);
      expect(expired.truncated).toBe(true);
      expect(expired.publications).toHaveLength(0);
      expect(expired.top).toEqual({ epoch: first.epoch, offset: 0 });
      const next = await a.broker.publish("ttl", data("n", 1));
      expect(next).toMatchObject({ epoch: first.epoch, offset: 1 });
      expect(await a.broker.history("ttl", 0, 10)).toMatchObject({ truncated: false, publications: [{ offset: 1 }] });
      expect((await a.broker.history("ttl", -1, 10)).truncated).toBe(true);
    } finally {
      await a.broker.close();
    }
  }, 20_000);

  test("meta lost → new epoch and offsets restart at 0; old history is gone", async () => {
    const [a, b] = await recordingBrokers(redis.url, 2, { prefix: "meta-loss:" });
    try {
      await a.broker.publish("m", data("n", 0));
      const before = await a.broker.publish("m", data("n", 1));
      await admin.del("meta-loss:m:m");
      const top = await b.broker.top("m");
      expect(top.epoch).not.toBe(before.epoch);
      expect(top.offset).toBe(-1);
      expect((await b.broker.history("m", -1, 10)).publications).toHaveLength(0);
      const after = await a.broker.publish("m", data("n", 2));
      expect(after).toMatchObject({ epoch: top.epoch, offset: 0 });
      expect((await b.broker.history("m", -1, 10)).publications.map((p) => p.data.payload)).toEqual([2]);
      expect(await admin.pttl("meta-loss:m:m")).toBeGreaterThan(await admin.pttl("meta-loss:h:m"));
    } finally {
      await a.broker.close();
      await b.broker.close();
    }
  }, 20_000);

  test("idempotency on data.id is shared across nodes and returns the first result", async () => {
    const [a, b] = await recordingBrokers(redis.url, 2);
    try {
      await b.broker.subscribe(["orders"]);
      const first = await a.broker.publish("orders", data("created", { n: 1 }, "order-1"), { idempotencyTtlMs: 60_000 });
      const repeat = await b.broker.publish("orders", data("created", { n: 2 }, "order-1"), { idempotencyTtlMs: 60_000 });
      expect(repeat).toEqual(first);
      const other = await b.broker.publish("orders", data("created", { n: 3 }, "order-2"), { idempotencyTtlMs: 60_000 });
      expect(other.offset).toBe(first.offset + 1);
      // Without a TTL the id is not an idempotency key.
      const plain = await a.broker.publish("orders", data("created", { n: 4 }, "order-1"));
      expect(plain.offset).toBe(first.offset + 2);
      await waitFor(() => publicationsOf(b.events, "orders").length === 3);
      expect(publicationsOf(b.events, "orders").map((p) => (p.data.payload as { n: number }).n)).toEqual([1, 3, 4]);
      expect((await a.broker.history("orders", -1, 10)).publications).toHaveLength(3);
    } finally {
      await a.broker.close();
      await b.broker.close();
    }
  }, 20_000);

  test("payloads survive exactly (unicode, big numbers, nesting); bad input is rejected clearly", async () => {
    const [a] = await recordingBrokers(redis.url, 1);
    try {
      const payload = { text: "héllo ✓ \u0000 \"q\" \\ /", big: 12345678901234567, float: 0.1 + 0.2, nested: [{ a: [1, null] }] };
      const published = await a.broker.publish("exact", { ...data("t", payload), priority: 8, correlationId: "c1" });
      const [stored] = (await a.broker.history("exact", -1, 1)).publications;
      expect(stored).toEqual(published);
      expect(stored.data.payload).toEqual(JSON.parse(JSON.stringify(payload)));
      expect(stored.data.priority).toBe(8);
      await expect(a.broker.publish("", data("t", 1))).rejects.toThrow(/topic/);
      await expect(a.broker.history("exact", -2, 1)).rejects.toThrow(/sinceOffset/);
      await expect(a.broker.history("exact", 0, 1.5)).rejects.toThrow(/limit/);
      await expect(a.broker.publish("exact", { type: "t" } as never)).rejects.toThrow(/type and id/);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await expect(a.broker.publish("exact", data("t", cyclic))).rejects.toThrow();
      expect(() => createRedisBroker("http://nope", { logger: quietLogger() })).toThrow(/redis:\/\//);
    } finally {
      await a.broker.close();
    }
  }, 20_000);

  test("broadcast and control reach every node", async () => {
    const nodes = await recordingBrokers(redis.url, 3);
    try {
      await nodes[0].broker.broadcast(data("announcement", { text: "all" }));
      await nodes[1].broker.control({ kind: "control", command: "disconnect", userId: "u1", code: 4403, reason: "banned" });
      for (const node of nodes) {
        await waitFor(() => node.events.length === 2, 5_000, "broadcast + control");
        expect(node.events[0]).toMatchObject({ kind: "broadcast", data: { type: "announcement", payload: { text: "all" } } });
        expect(node.events[1]).toEqual({ kind: "control", command: "disconnect", userId: "u1", code: 4403, reason: "banned" });
      }
    } finally {
      for (const node of nodes) await node.broker.close();
    }
  }, 20_000);
});
