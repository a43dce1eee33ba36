import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedisServer, type RedisTestServer } from "../../scripts/redis-test-server.ts";
import type { BrokerEvent } from "./types.ts";
import { recordingBrokers, waitFor } from "./redis-test-kit.ts";

let redis: RedisTestServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

function presenceEvents(events: BrokerEvent[], topic: string) {
  return events.flatMap((event) =>
    event.kind === "presence" && event.topic === topic ? [[event.action, event.userId, event.data] as const] : []
  );
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

describe("Redis broker: presence across nodes", () => {
  test("one join per user across nodes and connections; leave only with the last connection", async () => {
    const [a, b, c] = await recordingBrokers(redis.url, 3);
    try {
      for (const node of [a, b, c]) await node.broker.subscribe(["lobby"]);
      await a.broker.presenceAdd("lobby", { userId: "alice", connectionId: "a1", data: { status: "on" } });
      await b.broker.presenceAdd("lobby", { userId: "alice", connectionId: "b1", data: { status: "on" } });
      await b.broker.presenceAdd("lobby", { userId: "alice", connectionId: "b2", data: {} });
      await c.broker.presenceAdd("lobby", { userId: "bob", connectionId: "c1", data: { n: 1 } });
      // A refresh of an existing member is no new join.
      await a.broker.presenceAdd("lobby", { userId: "alice", connectionId: "a1", data: { status: "on" } });
      for (const node of [a, b, c]) {
        await waitFor(() => presenceEvents(node.events, "lobby").length === 2, 5_000, "two joins");
      }
      await settle();
      expect(presenceEvents(c.events, "lobby")).toEqual([
        ["join", "alice", { status: "on" }],
        ["join", "bob", { n: 1 }],
      ]);

      const members = await c.broker.presence("lobby");
      expect(members.map((m) => m.connectionId).sort()).toEqual(["a1", "b1", "b2", "c1"]);
      expect(members.find((m) => m.connectionId === "c1")).toEqual({ userId: "bob", connectionId: "c1", data: { n: 1 } });

      await b.broker.presenceUpdate("lobby", "b1", { status: "away" });
      await a.broker.presenceRemove("lobby", "a1");
      await b.broker.presenceRemove("lobby", "b1");
      await settle();
      expect(presenceEvents(a.events, "lobby").slice(2)).toEqual([["update", "alice", { status: "away" }]]);
      await b.broker.presenceRemove("lobby", "b2");
      await b.broker.presenceRemove("lobby", "b2"); // removing twice is harmless
      await c.broker.presenceRemove("lobby", "unknown-connection");
      for (const node of [a, b, c]) {
        await waitFor(() => presenceEvents(node.events, "lobby").length === 4, 5_000, "leave");
        expect(presenceEvents(node.events, "lobby")[3]).toEqual(["leave", "alice", {}]);
      }
      expect((await a.broker.presence("lobby")).map((m) => m.userId)).toEqual(["bob"]);
      // Updating an absent member is a no-op, not an event.
      await a.broker.presenceUpdate("lobby", "a1", { x: 1 });
      await settle();
      expect(presenceEvents(a.events, "lobby")).toHaveLength(4);
    } finally {
      for (const node of [a, b, c]) await node.broker.close();
    }
  }, 20_000);

  test("presence events reach only nodes with interest in the topic", async () => {
    const [a, b] = await recordingBrokers(redis.url, 2);
    try {
      await a.broker.subscribe(["x"]);
      await b.broker.presenceAdd("x", { userId: "u", connectionId: "c", data: {} });
      await b.broker.presenceAdd("y", { userId: "u", connectionId: "c", data: {} });
      await waitFor(() => presenceEvents(a.events, "x").length === 1);
      await settle();
      expect(presenceEvents(a.events, "y")).toHaveLength(0);
      expect(presenceEvents(b.events, "x")).toHaveLength(0);
    } finally {
      await a.broker.close();
      await b.broker.close();
    }
  }, 20_000);

  test("a live node keeps its members by refreshing them; a dead node's members expire and leave", async () => {
    const timing = { presenceTtlMs: 600, presenceRefreshMs: 150 };
    const [a, b, c] = await recordingBrokers(redis.url, 3, timing);
    try {
      await a.broker.subscribe(["room"]);
      await b.broker.presenceAdd("room", { userId: "kept", connectionId: "b1", data: {} });
      await c.broker.presenceAdd("room", { userId: "dies", connectionId: "c1", data: {} });
      await c.broker.presenceAdd("room", { userId: "kept", connectionId: "c2", data: {} });
      await waitFor(() => presenceEvents(a.events, "room").length === 2, 5_000, "joins");
      // A crash as far as presence goes: the node stops refreshing and removes nothing.
      clearInterval((c.broker as unknown as { timer: ReturnType<typeof setInterval> }).timer);
      await waitFor(() => presenceEvents(a.events, "room").length === 3, 5_000, "leave of the dead node's user");
      expect(presenceEvents(a.events, "room")[2]).toEqual(["leave", "dies", {}]);
      // "kept" still has b1 (refreshed by b), so there is no leave for it, well past the TTL.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(presenceEvents(a.events, "room")).toHaveLength(3);
      expect((await a.broker.presence("room")).map((m) => m.connectionId)).toEqual(["b1"]);
    } finally {
      for (const node of [a, b, c]) await node.broker.close();
    }
  }, 20_000);

  test("the sweep removes many expired members of a dead node quickly, one leave per user", async () => {
    const [a, dead] = await recordingBrokers(redis.url, 2, { presenceTtlMs: 400, presenceRefreshMs: 100 });
    try {
      await a.broker.subscribe(["crowd"]);
      clearInterval((dead.broker as unknown as { timer: ReturnType<typeof setInterval> }).timer);
      const count = 1_200;
      await Promise.all(Array.from({ length: count }, (_, i) =>
        dead.broker.presenceAdd("crowd", { userId: `user-${i % 600}`, connectionId: `conn-${i}`, data: {} })));
      await waitFor(() => presenceEvents(a.events, "crowd").length === 600, 10_000, "600 joins");
      await waitFor(() => presenceEvents(a.events, "crowd").length === 1_200, 10_000, "600 leaves");
      const leaves = presenceEvents(a.events, "crowd").filter(([action]) => action === "leave");
      expect(new Set(leaves.map(([, userId]) => userId)).size).toBe(600);
      expect(await a.broker.presence("crowd")).toEqual([]);
    } finally {
      await a.broker.close();
      await dead.broker.close();
    }
  }, 30_000);

  test("closing a node removes its members at once", async () => {
    const [a, b] = await recordingBrokers(redis.url, 2);
    try {
      await a.broker.subscribe(["t"]);
      await b.broker.presenceAdd("t", { userId: "u", connectionId: "b1", data: { k: 1 } });
      await waitFor(() => presenceEvents(a.events, "t").length === 1);
      await b.broker.close();
      await waitFor(() => presenceEvents(a.events, "t").length === 2, 3_000, "leave on close");
      expect(presenceEvents(a.events, "t")[1]).toEqual(["leave", "u", { k: 1 }]);
      expect(await a.broker.presence("t")).toEqual([]);
    } finally {
      await a.broker.close();
      await b.broker.close();
    }
  }, 20_000);

  test("members with odd user ids and deeply nested data still join, update and leave", async () => {
    const [a, b] = await recordingBrokers(redis.url, 2);
    try {
      await a.broker.subscribe(["odd"]);
      let deep: unknown = 1;
      for (let i = 0; i < 1_500; i++) deep = [deep];
      const user = 'line\nbreak "quoted" ✓ {json}';
      await b.broker.presenceAdd("odd", { userId: user, connectionId: "c\n1", data: { deep, n: 12345678901234567 } });
      await b.broker.presenceUpdate("odd", "c\n1", { deep, n: 2 });
      expect(await a.broker.presence("odd")).toEqual([{ userId: user, connectionId: "c\n1", data: { deep, n: 2 } }]);
      await b.broker.presenceRemove("odd", "c\n1");
      await waitFor(() => presenceEvents(a.events, "odd").length === 3, 5_000, "join, update, leave");
      expect(presenceEvents(a.events, "odd").map(([action, userId]) => [action, userId])).toEqual([
        ["join", user],
        ["update", user],
        ["leave", user],
      ]);
      expect(presenceEvents(a.events, "odd")[0]![2]).toEqual({ deep, n: 12345678901234567 });
      expect(await a.broker.presence("odd")).toEqual([]);
    } finally {
      await a.broker.close();
      await b.broker.close();
    }
  }, 20_000);

  test("bad presence input is rejected with a clear error", async () => {
    const [a] = await recordingBrokers(redis.url, 1);
    try {
      await expect(a.broker.presenceAdd("t", { userId: 1, connectionId: "c", data: {} } as never)).rejects.toThrow(/userId/);
      await expect(a.broker.presenceUpdate("t", "c", null as never)).rejects.toThrow(/presence data/);
      await expect(a.broker.presence("")).rejects.toThrow(/topic/);
      await expect(a.broker.presenceRemove("t", "")).rejects.toThrow(/connectionId/);
      await expect(a.broker.broadcast({ payload: 1 } as never)).rejects.toThrow(/string type/);
    } finally {
      await a.broker.close();
    }
  }, 20_000);
});
