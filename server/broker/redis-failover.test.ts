import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { startRedisServer, type RedisTestServer } from "../../scripts/redis-test-server.ts";
import { BrokerUnavailableError, isBrokerUnavailable } from "./redis.ts";
import { data, publicationsOf, quietLogger, recordingBrokers, waitFor } from "./redis-test-kit.ts";

let redis: RedisTestServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

describe("Redis broker: Redis going away and coming back", () => {
  test("down → unhealthy and clear rejections; back → healthy, channels and presence restored", async () => {
    const nodes = await recordingBrokers(redis.url, 2, { reconnectMaxDelayMs: 200, presenceTtlMs: 3_000 });
    const [a, b] = nodes;
    try {
      await a.broker.subscribe(["live"]);
      await b.broker.presenceAdd("live", { userId: "u1", connectionId: "b1", data: { v: 1 } });
      const before = await b.broker.publish("live", data("n", 0));
      await waitFor(() => publicationsOf(a.events, "live").length === 1);
      expect(a.events.filter((e) => e.kind === "presence")).toHaveLength(1);

      await redis.kill();
      await waitFor(() => !a.broker.healthy && !b.broker.healthy, 5_000, "unhealthy");
      const error = await b.broker.publish("live", data("n", 1)).catch((e) => e);
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect(isBrokerUnavailable(error)).toBe(true);
      expect(String(error.message)).toMatch(/Redis unavailable: cannot publish to "live"/);
      await expect(a.broker.history("live", -1, 10)).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(a.broker.presence("live")).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(a.broker.broadcast(data("b", 1))).rejects.toBeInstanceOf(BrokerUnavailableError);
      // Interest declared while Redis is down is kept and subscribed on reconnect.
      await a.broker.subscribe(["later"]);

      await redis.start();
      await a.broker.waitUntilHealthy(10_000);
      await b.broker.waitUntilHealthy(10_000);
      // Redis lost everything (no persistence): the stream starts over with a new epoch.
      const after = await b.broker.publish("live", data("n", 2));
      expect(after.offset).toBe(0);
      expect(after.epoch).not.toBe(before.epoch);
      await b.broker.publish("later", data("n", 3));
      await waitFor(() => publicationsOf(a.events, "live").length === 2, 5_000, "publication after restart");
      await waitFor(() => publicationsOf(a.events, "later").length === 1, 5_000, "channel subscribed while down");
      expect(publicationsOf(a.events, "live")[1]).toEqual(after);
      // The presence member is re-added by b's periodic refresh (Redis forgot it).
      let members: string[] = [];
      const deadline = Date.now() + 5_000;
      while (members.length === 0 && Date.now() < deadline) {
        members = (await a.broker.presence("live")).map((m) => m.connectionId);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(members).toEqual(["b1"]);
    } finally {
      for (const node of nodes) await node.broker.close();
    }
  }, 40_000);

  test("a dropped subscriber connection (e.g. output-buffer limit) is restored with its channels", async () => {
    const lines: string[] = [];
    const [a, b] = await recordingBrokers(redis.url, 2, { reconnectMaxDelayMs: 200, logger: quietLogger(lines) });
    const admin = new Redis(redis.url);
    try {
      await a.broker.subscribe(["kept"]);
      await b.broker.publish("kept", data("n", 0));
      await waitFor(() => publicationsOf(a.events, "kept").length === 1);
      const killed = await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
      expect(Number(killed)).toBe(2);
      await waitFor(() => lines.filter((line) => line.includes("unreachable")).length === 2, 5_000, "both reported unhealthy");
      await a.broker.waitUntilHealthy(10_000);
      await b.broker.waitUntilHealthy(10_000);
      const next = await b.broker.publish("kept", data("n", 1));
      await waitFor(() => publicationsOf(a.events, "kept").length === 2, 5_000, "publication after resubscribe");
      expect(publicationsOf(a.events, "kept")[1]).toEqual(next);
    } finally {
      admin.disconnect();
      await a.broker.close();
      await b.broker.close();
    }
  }, 30_000);

  test("a hung Redis (SIGSTOP): commands time out as unavailable, health drops, and recovers on SIGCONT", async () => {
    const [a] = await recordingBrokers(redis.url, 1, { commandTimeoutMs: 300, presenceTtlMs: 900 });
    try {
      await a.broker.publish("hang", data("n", 0));
      redis.pause();
      const error = await a.broker.publish("hang", data("n", 1)).catch((e) => e);
      expect(isBrokerUnavailable(error)).toBe(true);
      expect(String(error.message)).toMatch(/timed out/);
      expect(a.broker.healthy).toBe(false);
      redis.resume();
      // The periodic presence maintenance (every 300 ms here) probes Redis and clears the stall.
      await a.broker.waitUntilHealthy(5_000);
      expect((await a.broker.top("hang")).offset).toBeGreaterThanOrEqual(0);
    } finally {
      redis.resume();
      await a.broker.close();
    }
  }, 30_000);

  test("a broker started while Redis is down becomes healthy once it is up", async () => {
    await redis.stop();
    const pending = recordingBrokers(redis.url, 1, { reconnectMaxDelayMs: 200 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.start();
    const [a] = await pending;
    try {
      expect(a.broker.healthy).toBe(true);
      expect((await a.broker.publish("t", data("n", 0))).offset).toBe(0);
    } finally {
      await a.broker.close();
    }
  }, 30_000);

  test("closed broker rejects, and close is idempotent", async () => {
    const [a] = await recordingBrokers(redis.url, 1);
    await a.broker.close();
    await a.broker.close();
    expect(a.broker.healthy).toBe(false);
    await expect(a.broker.publish("t", data("n", 0))).rejects.toThrow(/closed/);
    await expect(a.broker.subscribe(["t"])).rejects.toThrow(/closed/);
  }, 20_000);
});
