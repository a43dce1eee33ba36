/**
 * PROTOCOL.md §7 closing on shutdown: SIGTERM (and SIGINT) drains the server: every client is
 * closed with 1012 (so WSE clients reconnect, unlike 2.x's 1001), publications already accepted
 * are delivered before the close, the process exits by itself, and after a restart the clients
 * reconnect and recover what they missed.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testSpawned, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { onTopic, sleep, WireClient } from "./wire.ts";

const target = await startTarget({ drainTimeoutMs: 3000 });
afterAll(() => target.stop());
const pool = new ClientPool();

async function drainWith(signal: NodeJS.Signals): Promise<void> {
  const topic = uniqueTopic("drain");
  const clients: WireClient[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await connectReady(pool, target, { claims: { sub: `drain-${i}` } });
    await c.subscribe([topic]);
    clients.push(c);
  }
  const positions: { epoch: string; offset: number }[] = [];
  for (let i = 0; i < 5; i++) positions.push(await target.publish(topic, "before_drain", { i }));

  const exited = target.exited();
  target.kill(signal);
  for (const c of clients) {
    const close = await c.waitClose(10_000);
    expect(close.code).toBe(1012);
    expect(c.frames.filter(onTopic(topic)).map((f) => f.envelope!.o)).toEqual([0, 1, 2, 3, 4]);
  }
  const code = await Promise.race([exited, sleep(15_000).then(() => "still running")]);
  expect(code).toBe(0);

  // Clients come back after the restart (same port) and resubscribe with recovery; the memory
  // broker lost its history, so the reply re-baselines them on the new stream.
  await target.restart();
  const back = await connectReady(pool, target, { claims: { sub: "drain-0" } });
  const reply = payloadOf(await back.subscribe([topic], { recover: true, recovery: { [topic]: { epoch: positions[4]!.epoch, offset: 4 } } }));
  expect(reply.success).toBe(true);
  // Memory broker: history is gone, the reply re-baselines. Redis: nothing was missed.
  const memory = target.caps.has("memory-broker");
  expect(reply.recovery[topic].recovered).toBe(!memory);
  await target.publish(topic, "after_restart", {});
  const live = await back.waitFor(onTopic(topic), 5000);
  expect(live.envelope!.o).toBe(memory ? 0 : 5);
}

describe("drain", () => {
  testWith(target, ["jwt", "api", "spawned"], "SIGTERM → every client closed 1012 after its pending publications; exit 0; reconnect works", async () => {
    await drainWith("SIGTERM");
  }, 45_000);

  testWith(target, ["jwt", "api", "spawned"], "SIGINT drains the same way", async () => {
    await drainWith("SIGINT");
  }, 45_000);

  testWith(target, ["jwt", "spawned"], "new connections are refused while draining", async () => {
    const holders: WireClient[] = [];
    for (let i = 0; i < 3; i++) holders.push(await connectReady(pool, target));
    target.kill("SIGTERM");
    await holders[0]!.waitClose(10_000);
    let refused = false;
    try {
      const { url, headers } = target.withToken(await target.mintToken());
      const late = await WireClient.connect(url, { headers, timeoutMs: 2000 });
      const outcome = await Promise.race([late.waitForType("server_ready", 2000).then(() => "served"), late.waitClose(3000).then(() => "closed")]).catch(() => "closed");
      refused = outcome === "closed";
      await late.close();
    } catch {
      refused = true;
    }
    expect(refused).toBe(true);
    await target.exited();
    await target.restart();
  }, 45_000);
});

describe("drain of more connections than one batch", () => {
  testWith(target, ["jwt", "spawned"], "250 connections (more than a 200-connection batch) all get 1012, and the process exits", async () => {
    await target.restart();
    const token = await target.mintToken({ sub: "crowd" });
    const clients: WireClient[] = [];
    for (let i = 0; i < 250; i++) {
      const { url, headers } = target.withToken(token);
      clients.push(await pool.connect(url, { headers }));
    }
    await Promise.all(clients.map((c) => c.waitForType("server_ready", 10_000)));
    const exited = target.exited();
    target.kill("SIGTERM");
    const codes = await Promise.all(clients.map((c) => c.waitClose(15_000).then((i) => i.code)));
    expect(codes.filter((c) => c !== 1012)).toEqual([]);
    expect(await Promise.race([exited, sleep(15_000).then(() => "still running")])).toBe(0);
    await target.restart();
  }, 60_000);
});

describe("drain with the reconnect-elsewhere code", () => {
  testSpawned("WSE_DRAIN_CODE=4300 → clients are closed 4300 on SIGTERM", async () => {
    const elsewhere = await startTarget({ drainTimeoutMs: 3000, extraEnv: { WSE_DRAIN_CODE: "4300" } });
    try {
      const clients = [await connectReady(pool, elsewhere), await connectReady(pool, elsewhere)];
      elsewhere.kill("SIGTERM");
      for (const c of clients) expect((await c.waitClose(10_000)).code).toBe(4300);
      expect(await Promise.race([elsewhere.exited(), sleep(15_000).then(() => "still running")])).toBe(0);
    } finally {
      await elsewhere.stop();
    }
  }, 30_000);
});
