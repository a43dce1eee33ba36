// The Redis broker on Deno (the Deno host uses it too): fan-out between two brokers, history,
// presence, and a clear rejection while Redis is down.
import assert from "node:assert/strict";
import { startRedisServer } from "../../scripts/redis-test-server.ts";
import { createRedisBroker, isBrokerUnavailable } from "./redis.ts";
import type { BrokerEvent } from "./types.ts";

// Typed locally so the project's tsc (Bun types) checks this file too; at run time it is Deno's.
declare const Deno: {
  test(definition: { name: string; sanitizeOps: boolean; sanitizeResources: boolean; fn: () => Promise<void> }): void;
};

const quiet = { info() {}, warn() {} };

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test({
  name: "Redis broker on Deno: fan-out, history, presence, outage",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedisServer();
    const a = createRedisBroker(redis.url, { logger: quiet, prefix: "deno:", reconnectMaxDelayMs: 200 });
    const b = createRedisBroker(redis.url, { logger: quiet, prefix: "deno:", reconnectMaxDelayMs: 200 });
    try {
      const events: BrokerEvent[] = [];
      a.setHandler((event) => events.push(event));
      await a.waitUntilHealthy(5_000);
      await b.waitUntilHealthy(5_000);
      await a.subscribe(["chat"]);
      const ts = new Date().toISOString();
      const first = await b.publish("chat", { type: "m", payload: { n: 1 }, id: "1", ts });
      const second = await b.publish("chat", { type: "m", payload: { n: 2 }, id: "2", ts });
      assert.equal(second.offset, first.offset + 1);
      await b.presenceAdd("chat", { userId: "u", connectionId: "c", data: { s: 1 } });
      await waitFor(() => events.length === 3, 5_000, "two publications and a join");
      assert.deepEqual(events[0], { kind: "publication", publication: first });
      assert.deepEqual(events[2], { kind: "presence", topic: "chat", action: "join", userId: "u", data: { s: 1 } });
      const history = await a.history("chat", first.offset, 10);
      assert.deepEqual(history.publications, [second]);

      await redis.kill();
      await waitFor(() => !a.healthy, 5_000, "unhealthy");
      const error = await b.publish("chat", { type: "m", payload: 3, id: "3", ts }).catch((e) => e);
      assert.ok(isBrokerUnavailable(error), String(error));
      await redis.start();
      await a.waitUntilHealthy(10_000);
      await b.waitUntilHealthy(10_000);
      const after = await b.publish("chat", { type: "m", payload: 4, id: "4", ts });
      await waitFor(() => events.some((e) => e.kind === "publication" && e.publication.offset === after.offset && e.publication.epoch === after.epoch), 5_000, "publication after restart");
    } finally {
      await a.close();
      await b.close();
      await redis.stop();
    }
  },
});
