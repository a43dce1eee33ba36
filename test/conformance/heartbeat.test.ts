/**
 * PROTOCOL.md §7 heartbeat: client ping → PONG (also when the ping arrives encrypted), server
 * pings every ping_interval, both always plaintext text frames that begin exactly
 * `{"c":"WSE","t":"PONG"` / `{"c":"WSE","t":"ping"` (the Python client looks at the first 25
 * characters), and the idle close 4000.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testWith } from "./support.ts";
import { startTarget } from "./target.ts";
import { isoSkewMs, ofType, sleep } from "./wire.ts";

const PING_MS = 700;
const IDLE_MS = 2000;
const target = await startTarget({ pingIntervalMs: PING_MS, idleTimeoutMs: IDLE_MS });
afterAll(() => target.stop());
const pool = new ClientPool();

describe("client ping → PONG", () => {
  testWith(target, ["jwt"], "PONG is a text frame beginning {\"c\":\"WSE\",\"t\":\"PONG\" with the timestamps", async () => {
    const client = await connectReady(pool, target);
    const sent = Date.now() - 5;
    const since = client.mark();
    client.send({ c: "WSE", t: "ping", p: { timestamp: sent }, v: 1 });
    const frame = await client.waitFor(ofType("PONG"), 5000, since, "PONG");
    expect(frame.kind).toBe("text");
    expect((frame.raw as string).startsWith('{"c":"WSE","t":"PONG"')).toBe(true);
    const p = payloadOf(frame.envelope);
    expect(frame.envelope!.v).toBe(1);
    expect(p.client_timestamp).toBe(sent);
    expect(typeof p.server_timestamp).toBe("number");
    expect(Math.abs(p.server_timestamp - Date.now())).toBeLessThan(5000);
    expect(typeof p.latency).toBe("number");
  });

  testWith(target, ["jwt"], "an encrypted (E:) ping gets a plaintext text PONG", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    expect(client.key).not.toBeNull();
    const since = client.mark();
    await client.sendEncrypted({ c: "WSE", t: "ping", p: { timestamp: 12345 }, v: 1 });
    const frame = await client.waitFor(ofType("PONG"), 5000, since, "PONG");
    expect(frame.kind).toBe("text");
    expect((frame.raw as string).startsWith('{"c":"WSE","t":"PONG"')).toBe(true);
    expect(payloadOf(frame.envelope).client_timestamp).toBe(12345);
  });

  testWith(target, ["jwt"], "a PONG from the client is accepted silently", async () => {
    const client = await connectReady(pool, target);
    const since = client.mark();
    client.send({ c: "WSE", t: "PONG", p: { server_timestamp: Date.now(), client_timestamp: Date.now() }, v: 1 });
    client.send({ c: "WSE", t: "ping", p: { timestamp: 1 } });
    await client.waitForType("PONG", 5000, since);
    expect(client.frames.slice(since).filter(ofType("error"))).toEqual([]);
  });
});

describe("server ping", () => {
  testWith(target, ["jwt", "short-ping"], "server_hello announces ping_interval and pings arrive as plaintext text frames", async () => {
    const client = await connectReady(pool, target);
    expect(payloadOf(client.handshakeResult.hello).ping_interval).toBe(PING_MS);
    const frame = await client.waitFor(ofType("ping"), PING_MS * 3, 0, "server ping");
    expect(frame.kind).toBe("text");
    expect((frame.raw as string).startsWith('{"c":"WSE","t":"ping"')).toBe(true);
    expect(isoSkewMs(payloadOf(frame.envelope).server_time)).toBeLessThan(5000);
  });

  testWith(target, ["jwt", "short-ping"], "server pings keep coming every ping_interval", async () => {
    const client = await connectReady(pool, target);
    const since = client.mark();
    const keepAlive = setInterval(() => client.send({ c: "WSE", t: "ping", p: { timestamp: Date.now() } }), IDLE_MS / 4);
    const pings = await client.waitForCount(ofType("ping"), 3, PING_MS * 5, since).finally(() => clearInterval(keepAlive));
    const gaps = pings.slice(1).map((f, i) => f.receivedAt - pings[i]!.receivedAt);
    for (const gap of gaps) expect(gap).toBeGreaterThan(PING_MS / 2);
  });

  testWith(target, ["jwt", "short-ping"], "server pings stay plaintext text on an encrypted connection", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    expect(client.key).not.toBeNull();
    const since = client.mark();
    const frame = await client.waitFor(ofType("ping"), PING_MS * 3, since, "server ping");
    expect(frame.kind).toBe("text");
    expect((frame.raw as string).startsWith('{"c":"WSE","t":"ping"')).toBe(true);
  });
});

describe("idle close", () => {
  testWith(target, ["jwt", "short-idle"], "a connection that sends nothing is closed 4000 after idle_timeout", async () => {
    const token = await target.mintToken();
    const client = await pool.connectWithToken(target, token);
    const opened = Date.now();
    const close = await client.waitClose(IDLE_MS + 4000);
    expect(close.code).toBe(4000);
    expect(close.at - opened).toBeGreaterThanOrEqual(IDLE_MS - 500);
  });

  testWith(target, ["jwt", "short-idle", "api"], "receiving publications does not count as activity: a silent subscriber is closed 4000", async () => {
    const client = await connectReady(pool, target);
    const topic = `idle.${crypto.randomUUID().slice(0, 8)}`;
    await client.subscribe([topic]);
    const until = Date.now() + IDLE_MS + 4000;
    let sent = 0;
    while (!client.closeInfo && Date.now() < until) {
      await target.publish(topic, "keepalive?", { sent: sent++ });
      await sleep(250);
    }
    expect(client.closeInfo?.code).toBe(4000);
    expect(client.frames.filter((f) => f.envelope?.tp === topic).length).toBeGreaterThan(3);
  });

  testWith(target, ["jwt", "short-idle"], "a connection that keeps pinging stays open past idle_timeout", async () => {
    const client = await connectReady(pool, target);
    const until = Date.now() + IDLE_MS * 1.75;
    while (Date.now() < until) {
      client.send({ c: "WSE", t: "ping", p: { timestamp: Date.now() } });
      await sleep(IDLE_MS / 4);
    }
    expect(client.closeInfo).toBeNull();
  });

  testWith(target, ["jwt", "short-idle", "short-ping"], "answering server pings with PONG keeps a connection open", async () => {
    const client = await connectReady(pool, target);
    let answered = 0;
    let cursor = client.mark();
    const until = Date.now() + IDLE_MS * 1.75;
    while (Date.now() < until && !client.closeInfo) {
      const pings = client.frames.slice(cursor).filter(ofType("ping"));
      cursor = client.mark();
      for (const ping of pings) {
        client.send({ c: "WSE", t: "PONG", p: { server_timestamp: payloadOf(ping.envelope).server_time, client_timestamp: Date.now() }, v: 1 });
        answered++;
      }
      await sleep(100);
    }
    expect(answered).toBeGreaterThan(0);
    expect(client.closeInfo).toBeNull();
  });
});
