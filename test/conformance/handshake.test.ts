/**
 * PROTOCOL.md §2 (handshake) and the inbound envelope forms of §3: server_ready first with its
 * details, client_hello → server_hello with every field, protocol_version = min(client, 2),
 * development mode without JWT, aliases and legacy prefixes inbound.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testSpawned, testWith, TEST_TIMEOUT_MS, uniqueTopic } from "./support.ts";
import { startTarget, type Target } from "./target.ts";
import { isoSkewMs, onTopic, sleep } from "./wire.ts";

const target = await startTarget({});
afterAll(() => target.stop());
const pool = new ClientPool();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

describe("server_ready", () => {
  testWith(target, ["jwt"], "is the first frame, a text frame, with the documented shape", async () => {
    const token = await target.mintToken({ sub: "alice" });
    const client = await pool.connectWithToken(target, token);
    const frame = await client.waitFor(() => true, 5000, 0, "first frame");
    expect(frame.kind).toBe("text");
    const env = frame.envelope!;
    expect(env.c).toBe("WSE");
    expect(env.t).toBe("server_ready");
    expect(env.v).toBe(1);
    expect(env.seq).toBe(1);
    expect(String(env.id)).toMatch(UUID);
    expect(isoSkewMs(env.ts)).toBeLessThan(5000);
    const p = payloadOf(env);
    expect(typeof p.message).toBe("string");
    const details = p.details;
    expect(typeof details.connection_id).toBe("string");
    expect(details.connection_id.length).toBeGreaterThan(0);
    expect(details.user_id).toBe("alice");
    expect(isoSkewMs(details.server_time)).toBeLessThan(5000);
    expect(details.version).toBe(1);
    const f = details.features;
    expect(f.compression).toBe(true);
    expect(typeof f.encryption).toBe("boolean");
    expect(f.recovery).toBe(true); // WSE_RECOVERY is on by default
    expect(f.presence).toBe(true); // the suite starts the server with presence on
    expect(f.batching).toBe(true);
    expect(f.priority_queue).toBe(true);
    expect(f.msgpack).toBe(true);
  });

  testWith(target, ["jwt"], "gives every connection its own connection_id", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const c = await connectReady(pool, target);
      ids.add(payloadOf(c.handshakeResult.ready).details.connection_id);
    }
    expect(ids.size).toBe(5);
  });
});

describe("server_hello", () => {
  testWith(target, ["jwt"], "answers client_hello in plaintext text with every documented field", async () => {
    const client = await connectReady(pool, target, { claims: { sub: "bob" } });
    const { ready, hello } = client.handshakeResult;
    const helloFrame = client.frames.find((f) => f.envelope?.t === "server_hello")!;
    expect(helloFrame.kind).toBe("text");
    expect(hello.c).toBe("WSE");
    expect(hello.v).toBe(1);
    const p = payloadOf(hello);
    expect(p.connection_id).toBe(payloadOf(ready).details.connection_id);
    expect(typeof p.server_version).toBe("string");
    expect(p.protocol_version).toBe(2);
    expect(isoSkewMs(p.server_time)).toBeLessThan(5000);
    expect(typeof p.ping_interval).toBe("number");
    expect(p.ping_interval).toBeGreaterThan(0);
    for (const k of ["compression", "encryption", "msgpack", "recovery", "presence", "batching", "priority_queue", "cluster", "zstd"]) {
      expect(typeof p.features[k]).toBe("boolean");
    }
    expect(p.features.encryption).toBe(false); // not asked for
    expect(p.encryption_public_key).toBeUndefined();
    for (const k of ["max_message_size", "rate_limit_capacity", "rate_limit_refill"]) {
      expect(typeof p.limits[k]).toBe("number");
    }
    if (hello.ts !== undefined) expect(isoSkewMs(hello.ts)).toBeLessThan(5000);
  });

  for (const [client, expected] of [
    [1, 1],
    [2, 2],
    [3, 2],
  ] as const) {
    testWith(target, ["jwt"], `protocol_version is min(client=${client}, 2) = ${expected}`, async () => {
      const c = await connectReady(pool, target, { protocolVersion: client });
      expect(payloadOf(c.handshakeResult.hello).protocol_version).toBe(expected);
    });
  }

  testWith(target, ["jwt"], "a connection that completed the handshake can subscribe and receive", async () => {
    const topic = uniqueTopic("hs");
    const client = await connectReady(pool, target);
    const reply = await client.subscribe([topic]);
    expect(payloadOf(reply).success).toBe(true);
    await target.publish(topic, "hs_event", { n: 1 });
    const got = await client.waitFor(onTopic(topic), 5000);
    expect(got.envelope!.t).toBe("hs_event");
  });
});

describe("connect query parameters and inbound forms", () => {
  testWith(target, ["jwt"], "accepts and ignores the query parameters old clients add", async () => {
    const c = await connectReady(pool, target, {
      query: { client_version: "2.4.0", protocol_version: "1", compression: "true", encryption: "false" },
    });
    expect(payloadOf(c.handshakeResult.hello).connection_id).toBeTruthy();
  });

  testWith(target, ["jwt"], "accepts the Python wse-client's client_hello verbatim (ts with +00:00, pri, seq, extra features)", async () => {
    const token = await target.mintToken();
    const client = await pool.connect(target.url({ client_version: "2.0.7", protocol_version: "1", compression: "true", encryption: "false" }), {
      headers: { Cookie: `access_token=${token}`, Authorization: `Bearer ${token}` },
    });
    const ready = await client.waitForType("server_ready");
    const since = client.mark();
    client.send({
      c: "WSE",
      t: "client_hello",
      p: {
        client_version: "2.0.7",
        protocol_version: 1,
        features: { compression: true, encryption: false, batching: true, priority_queue: true, circuit_breaker: true, offline_queue: true, message_signing: false, rate_limiting: true, health_check: true, metrics: true },
        connection_id: payloadOf(ready).details.connection_id,
      },
      id: crypto.randomUUID(),
      ts: new Date().toISOString().replace("Z", "123+00:00"),
      v: 1,
      pri: 10,
    });
    const hello = await client.waitForType("server_hello", 5000, since);
    expect(payloadOf(hello).protocol_version).toBe(1);
    expect(client.frames.slice(since).some((f) => f.envelope?.t === "error")).toBe(false);
  });

  testWith(target, ["jwt"], "accepts the `type`/`payload` aliases in client_hello", async () => {
    const token = await target.mintToken();
    const client = await pool.connectWithToken(target, token);
    await client.waitForType("server_ready");
    client.send({ c: "WSE", type: "client_hello", v: 1, payload: { client_version: "x", protocol_version: 1, features: {} } });
    const hello = await client.waitForType("server_hello");
    expect(payloadOf(hello).protocol_version).toBe(1);
  });

  for (const prefix of ["WSE", "S", "U"]) {
    testWith(target, ["jwt"], `strips the legacy text prefix ${prefix}{ inbound`, async () => {
      const client = await connectReady(pool, target);
      const since = client.mark();
      client.sendRaw(`${prefix}${JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: Date.now() } })}`);
      const pong = await client.waitForType("PONG", 5000, since);
      expect(typeof payloadOf(pong).server_timestamp).toBe("number");
    });
  }

  testWith(target, ["jwt"], "accepts JSON in a binary frame with no prefix", async () => {
    const client = await connectReady(pool, target);
    const since = client.mark();
    client.sendRaw(new TextEncoder().encode(JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: Date.now() } })));
    await client.waitForType("PONG", 5000, since);
  });
});

describe("development mode (no JWT configured)", () => {
  let dev: Target | null = null;
  afterAll(async () => {
    await dev?.stop();
  });

  testSpawned(
    "still performs the whole handshake, with a user id derived from the connection",
    async () => {
      dev = await startTarget({ jwtSecret: null });
      const client = await pool.connect(dev.url());
      const { ready, hello } = await client.handshake();
      const details = payloadOf(ready).details;
      expect(typeof details.connection_id).toBe("string");
      expect(typeof details.user_id).toBe("string");
      expect(details.user_id.length).toBeGreaterThan(0);
      expect(payloadOf(hello).connection_id).toBe(details.connection_id);
      const topic = uniqueTopic("dev");
      expect(payloadOf(await client.subscribe([topic])).success).toBe(true);
      await dev.publish(topic, "dev_event", { ok: true });
      await client.waitFor(onTopic(topic), 5000);
      await sleep(50);
      expect(client.envelopes().some((e) => e.t === "error")).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );
});
