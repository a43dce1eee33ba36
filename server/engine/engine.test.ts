/**
 * Engine tests without a runtime host: an in-memory host (channels → sockets, like Bun's
 * publish) drives the real engine and the real memory broker.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { decodeFrame, encodeFrame } from "../../wasm/frame.ts";
import { type Envelope, parseEnvelope } from "../../wasm/envelope.ts";
import { nativeCodec } from "../../wasm/native.ts";
import type { SessionKey } from "../../wasm/api.ts";
import { MemoryBroker } from "../broker/memory.ts";
import type { HistoryResult } from "../broker/types.ts";
import { resolveOptions, type ServerOptions } from "../options.ts";
import { Engine, sendableCloseCode } from "./engine.ts";
import type { HostSocket, UpgradeData } from "./host.ts";
import { silentLogger } from "../log.ts";

class FakeSocket implements HostSocket {
  frames: Array<string | Uint8Array> = [];
  channels = new Set<string>();
  closed: { code: number; reason: string } | null = null;
  key: SessionKey | null = null;
  buffered = 0;
  constructor(readonly host: FakeHost) {}
  send(frame: string | Uint8Array): number {
    if (this.closed) return 0;
    this.frames.push(frame);
    return typeof frame === "string" ? frame.length : frame.length;
  }
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    queueMicrotask(() => this.host.engine.socketClosed(this.data!, code, reason));
  }
  subscribe(channel: string): void {
    this.channels.add(channel);
  }
  unsubscribe(channel: string): void {
    this.channels.delete(channel);
  }
  getBufferedAmount(): number {
    return this.buffered;
  }
  terminate(): void {
    this.close(1006, "");
  }
  data?: UpgradeData;
  /** Decoded envelopes received so far. */
  envelopes(): Envelope[] {
    return this.frames.flatMap((f) => {
      try {
        return [parseEnvelope(decodeFrame(f, nativeCodec, { key: this.key ?? undefined }))];
      } catch {
        return [];
      }
    });
  }
  ofType(t: string): Envelope[] {
    return this.envelopes().filter((e) => e.t === t);
  }
  stamped(topic: string): number[] {
    return this.envelopes().filter((e) => e.tp === topic).map((e) => e.o!);
  }
  receive(envelope: unknown, encrypt = false): void {
    const json = JSON.stringify(envelope);
    this.host.engine.message(this.data!, encrypt && this.key ? (encodeFrame(json, nativeCodec, { key: this.key }) as Uint8Array) : json);
  }
}

class FakeHost {
  readonly engine: Engine;
  readonly sockets = new Set<FakeSocket>();
  constructor(options: ServerOptions, broker?: MemoryBroker) {
    this.engine = new Engine(resolveOptions({ logger: silentLogger, broker, ...options }));
    this.engine.setFanOut({
      publish: (channel, frame) => {
        for (const s of this.sockets) if (s.channels.has(channel) && !s.closed) s.frames.push(frame);
      },
    });
  }
  async connect(request = new Request("http://127.0.0.1/wse")): Promise<FakeSocket> {
    const data = await this.engine.prepare(request);
    if (data instanceof Response) throw new Error(`refused ${data.status}`);
    const socket = new FakeSocket(this);
    socket.data = data;
    this.sockets.add(socket);
    this.engine.open(socket, data);
    return socket;
  }
}

const hosts: FakeHost[] = [];
function host(options: ServerOptions = {}, broker?: MemoryBroker): FakeHost {
  const h = new FakeHost(options, broker);
  hosts.push(h);
  return h;
}
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.engine.close();
});

const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await tick();
  }
}

describe("handshake", () => {
  test("server_ready is the first frame, text, starting with c then t", async () => {
    const h = host();
    const s = await h.connect();
    const first = s.frames[0] as string;
    expect(typeof first).toBe("string");
    expect(first.startsWith('{"c":"WSE","t":"server_ready"')).toBe(true);
    const env = JSON.parse(first);
    expect(env.seq).toBe(1);
    expect(env.p.details.user_id).toBe(env.p.details.connection_id); // development mode
  });

  test("connection ids: unique, url-safe, found by send/disconnect; refused and discarded upgrades give their slot back", async () => {
    const h = host({ origins: ["https://ok.example"] });
    const sockets = await Promise.all(Array.from({ length: 20 }, () => h.connect()));
    const ids = sockets.map((s) => JSON.parse(s.frames[0] as string).p.details.connection_id as string);
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{16}\.[0-9a-z]+$/);
    expect(h.engine.send(ids[3]!, "direct", { n: 3 })).toBe(true);
    expect(sockets[3]!.ofType("direct").length).toBe(1);
    expect(h.engine.send(ids[3]!.slice(0, 16) + ".0", "direct", {})).toBe(false); // right slot number, wrong id
    expect(h.engine.send("nope", "direct", {})).toBe(false);
    expect(await h.engine.disconnect({ connectionId: ids[5]! })).toBe(1);
    await until(() => h.engine.sessions.size === 19);
    const slotOf = (id: string) => id.split(".")[1];
    const reused = await h.connect();
    expect(slotOf(JSON.parse(reused.frames[0] as string).p.details.connection_id)).toBe(slotOf(ids[5]!));
    // Refused after the upgrade (origin): open gives the slot back.
    const refusedData = await h.engine.prepare(new Request("http://127.0.0.1/wse", { headers: { origin: "https://evil.example" } }));
    if (refusedData instanceof Response) throw new Error("expected upgrade data");
    expect(refusedData.refusal?.code).toBe("ORIGIN_NOT_ALLOWED");
    const refusedSocket = new FakeSocket(h);
    refusedSocket.data = refusedData;
    expect(h.engine.open(refusedSocket, refusedData)).toBeNull();
    const afterRefusal = await h.engine.prepare(new Request("http://127.0.0.1/wse"));
    if (afterRefusal instanceof Response) throw new Error("expected upgrade data");
    expect(slotOf(afterRefusal.connectionId)).toBe(slotOf(refusedData.connectionId));
    // The host could not upgrade: discard gives the slot back.
    h.engine.discard(afterRefusal);
    const next = await h.connect();
    expect(slotOf(next.data!.connectionId)).toBe(slotOf(afterRefusal.connectionId));
    expect(next.data!.connectionId).not.toBe(afterRefusal.connectionId);
    expect(h.engine.sessions.size).toBe(21);
    expect(h.engine.stats().users).toBe(21);
  });

  test("client_hello → plaintext server_hello with protocol_version min(client, 2)", async () => {
    const s = await host({ pingIntervalMs: 1234 }).connect();
    s.receive({ t: "client_hello", p: { protocol_version: 7, features: {} } });
    const hello = s.ofType("server_hello")[0]!;
    expect(hello.p.protocol_version).toBe(2);
    expect(hello.p.ping_interval).toBe(1234);
    expect((hello.p.features as Record<string, unknown>).encryption).toBe(false);
  });

  test("ping → PONG with exact key order; an encrypted ping gets a plaintext PONG", async () => {
    const s = await host().connect();
    s.receive({ c: "WSE", t: "ping", p: { timestamp: Date.now() - 5 } });
    const pong = s.frames.at(-1) as string;
    expect(pong.startsWith('{"c":"WSE","t":"PONG"')).toBe(true);
    expect(JSON.parse(pong).p.latency).toBeGreaterThanOrEqual(0);
    // key exchange
    const pair = nativeCodec.generateKeyPair();
    s.receive({ t: "client_hello", p: { protocol_version: 2, features: { encryption: true }, encryption_public_key: Buffer.from(pair.publicKey).toString("base64") } });
    const hello = s.ofType("server_hello")[0]!;
    s.key = pair.deriveKey(new Uint8Array(Buffer.from(hello.p.encryption_public_key as string, "base64")));
    const before = s.frames.length;
    s.receive({ c: "WSE", t: "ping", p: { timestamp: 1 } }, true);
    const reply = s.frames[before] as string;
    expect(typeof reply).toBe("string");
    expect(reply.startsWith('{"c":"WSE","t":"PONG"')).toBe(true);
  });

  test("a bad key → KEY_EXCHANGE_FAILED then server_hello encryption:false", async () => {
    const s = await host().connect();
    s.receive({ t: "client_hello", p: { features: { encryption: true }, encryption_public_key: "AAAA" } });
    const types = s.envelopes().map((e) => e.t);
    expect(types.slice(-2)).toEqual(["error", "server_hello"]);
    expect(s.ofType("error")[0]!.p.code).toBe("KEY_EXCHANGE_FAILED");
    expect((s.ofType("server_hello")[0]!.p.features as Record<string, unknown>).encryption).toBe(false);
  });

  test("auth refusal: error frame then 4401", async () => {
    const h = host({ hooks: { authenticate: () => { throw Object.assign(new Error("nope"), { code: "AUTH_REQUIRED" }); } } });
    const s = await h.connect();
    expect(JSON.parse(s.frames[0] as string).p.code).toBe("AUTH_REQUIRED");
    expect(s.closed?.code).toBe(4401);
    expect(h.engine.metrics().authFailures).toBe(1);
  });

  test("origin allow-list refuses other origins with 4403", async () => {
    const h = host({ origins: ["https://ok.example"] });
    const bad = await h.connect(new Request("http://127.0.0.1/wse", { headers: { origin: "https://evil.example" } }));
    expect(JSON.parse(bad.frames[0] as string).p.code).toBe("ORIGIN_NOT_ALLOWED");
    expect(bad.closed?.code).toBe(4403);
    const good = await h.connect(new Request("http://127.0.0.1/wse", { headers: { origin: "https://ok.example" } }));
    expect(good.closed).toBeNull();
  });
});

describe("topics", () => {
  test("subscribe → reply, publications stamped through the variant channel", async () => {
    const h = host();
    const s = await h.connect();
    s.receive({ t: "subscription_update", p: { action: "subscribe", topics: ["a"] } });
    await until(() => s.ofType("subscription_update").length === 1);
    await h.engine.publish("a", "tick", { n: 1 });
    await h.engine.publish("a", "tick", { n: 2 });
    expect(s.stamped("a")).toEqual([0, 1]);
    s.receive({ t: "subscription_update", p: { action: "unsubscribe", topics: ["a"] } });
    await until(() => s.ofType("subscription_update").length === 2);
    await h.engine.publish("a", "tick", { n: 3 });
    expect(s.stamped("a")).toEqual([0, 1]);
    expect(h.engine.hub.has("a")).toBe(false);
  });

  test("the recovery seam: publications during a slow history read are neither lost nor duplicated", async () => {
    const broker = new MemoryBroker({ sweepIntervalMs: 0 });
    let gate: (() => void) | null = null;
    const realHistory = broker.history.bind(broker);
    broker.history = async (topic, since, limit): Promise<HistoryResult> => {
      const result = await realHistory(topic, since, limit);
      await new Promise<void>((resolve) => (gate = resolve));
      return result;
    };
    const h = host({}, broker);
    const first = await h.engine.publish("s", "x", { i: 0 });
    for (let i = 1; i < 5; i++) await h.engine.publish("s", "x", { i });
    const s = await h.connect();
    s.receive({ t: "subscription_update", p: { action: "subscribe", topics: ["s"], recover: true, recovery: { s: { epoch: first.epoch, offset: 1 } } } });
    await until(() => gate !== null);
    // History was read up to offset 4; these arrive while the session is held.
    for (let i = 5; i < 8; i++) await h.engine.publish("s", "x", { i });
    gate!();
    await until(() => s.ofType("subscription_update").length === 1);
    await h.engine.publish("s", "x", { i: 8 });
    expect(s.stamped("s")).toEqual([2, 3, 4, 5, 6, 7, 8]);
    const reply = s.ofType("subscription_update")[0]!.p as Record<string, any>;
    expect(reply.recovered).toBe(true);
    expect(reply.recovery.s).toMatchObject({ recovered: true, count: 3, offset: 4, epoch: first.epoch });
    // Order on the wire: replay, reply, then the buffered live ones.
    const order = s.envelopes().filter((e) => e.tp === "s" || e.t === "subscription_update").map((e) => e.t === "subscription_update" ? "reply" : e.o);
    expect(order).toEqual([2, 3, 4, "reply", 5, 6, 7, 8]);
  });

  test("a broker failure fails the topics with 'unavailable'; a live topic stays live", async () => {
    const broker = new MemoryBroker({ sweepIntervalMs: 0 });
    const h = host({}, broker);
    const s = await h.connect();
    s.receive({ t: "subscription_update", p: { topics: ["live"] } });
    await until(() => s.ofType("subscription_update").length === 1);
    const realHistory = broker.history.bind(broker);
    broker.history = () => Promise.reject(new Error("store down"));
    const top = await h.engine.publish("live", "x", {});
    s.receive({ t: "subscription_update", p: { topics: ["live"], recover: true, recovery: { live: { epoch: top.epoch, offset: -1 } } } });
    await until(() => s.ofType("subscription_update").length === 2);
    expect(s.ofType("subscription_update")[1]!.p).toMatchObject({ success: false, errors: { live: "unavailable" } });
    broker.history = realHistory;
    await h.engine.publish("live", "x", {});
    expect(s.stamped("live")).toEqual([0, 1]);
  });

  test("limits: 128 topics per connection, invalid names, ACL", async () => {
    const h = host({ maxTopicsPerConnection: 3, hooks: { authenticate: () => ({ userId: "u", claims: {}, acl: { allows: (t: string) => !t.startsWith("secret") } }) } });
    const s = await h.connect();
    s.receive({ t: "subscription_update", p: { topics: ["a", "b", "secret-x", "", "c", "d"] } });
    await until(() => s.ofType("subscription_update").length === 1);
    const p = s.ofType("subscription_update")[0]!.p as Record<string, any>;
    expect(p.success).toBe(false);
    expect(p.success_topics).toEqual(["a", "b", "c"]);
    expect(p.errors).toEqual({ "secret-x": "forbidden", "": "invalid_topic", d: "too_many_topics" });
  });
});

describe("presence", () => {
  test("join on the first connection of a user, leave on the last, update everywhere", async () => {
    const h = host({ hooks: { authenticate: (req) => ({ userId: new URL(req.url).searchParams.get("u")!, claims: {}, acl: null }) } });
    const watcher = await h.connect(new Request("http://x/wse?u=w"));
    watcher.receive({ t: "subscription_update", p: { topics: ["room"] } });
    const a1 = await h.connect(new Request("http://x/wse?u=alice"));
    const a2 = await h.connect(new Request("http://x/wse?u=alice"));
    a1.receive({ t: "subscription_update", p: { topics: ["room"], presence: { status: "hi" } } });
    a2.receive({ t: "subscription_update", p: { topics: ["room"], presence: { status: "hi" } } });
    await until(() => a2.ofType("subscription_update").length === 1);
    await tick();
    expect(watcher.ofType("presence_join").map((e) => e.p)).toEqual([{ topic: "room", user_id: "alice", data: { status: "hi" } }]);
    a2.receive({ t: "presence_update", p: { data: { status: "away" } } });
    await until(() => watcher.ofType("presence_update").length === 1);
    expect(watcher.ofType("presence_update")[0]!.p.data).toEqual({ status: "away" });
    a1.receive({ t: "presence_request", p: { topic: "room" } });
    await until(() => a1.ofType("presence").length === 1);
    expect(a1.ofType("presence")[0]!.p).toMatchObject({ num_users: 1, num_connections: 2 });
    a1.close(1000, "bye");
    await tick();
    expect(watcher.ofType("presence_leave").length).toBe(0);
    a2.close(1000, "bye");
    await until(() => watcher.ofType("presence_leave").length === 1);
    expect(watcher.ofType("presence_leave")[0]!.p).toMatchObject({ topic: "room", user_id: "alice" });
  });

  test("presence data over the limit is refused", async () => {
    const s = await host({ presenceMaxData: 100 }).connect();
    s.receive({ t: "subscription_update", p: { topics: ["room"], presence: { blob: "x".repeat(200) } } });
    await until(() => s.ofType("subscription_update").length === 1);
    expect(s.ofType("error")[0]!.p.code).toBe("MESSAGE_TOO_LARGE");
  });
});

describe("limits and timers", () => {
  test("server ping every interval: plaintext text beginning {\"c\":\"WSE\",\"t\":\"ping\"}, also on encrypted connections", async () => {
    const h = host({ pingIntervalMs: 40 });
    const plain = await h.connect();
    const enc = await h.connect();
    const pair = nativeCodec.generateKeyPair();
    enc.receive({ t: "client_hello", p: { features: { encryption: true }, encryption_public_key: Buffer.from(pair.publicKey).toString("base64") } });
    const isPing = (f: string | Uint8Array) => typeof f === "string" && f.startsWith('{"c":"WSE","t":"ping"');
    await until(() => plain.frames.filter(isPing).length >= 2 && enc.frames.filter(isPing).length >= 2);
    const ping = JSON.parse(plain.frames.find(isPing) as string);
    expect(typeof ping.p.server_time).toBe("string");
  });

  test("idle connections close with 4000", async () => {
    const s = await host({ idleTimeoutMs: 120 }).connect();
    await until(() => s.closed !== null, 3000);
    expect(s.closed!.code).toBe(4000);
  });

  test("rate limit: warning, RATE_LIMITED with retry_after, then 4429", async () => {
    const s = await host({ rateLimit: { capacity: 10, refillPerSecond: 1, abuseThreshold: 5 } }).connect();
    for (let i = 0; i < 30 && !s.closed; i++) s.receive({ t: "app", p: { i } });
    expect(s.ofType("rate_limit_warning").length).toBe(1);
    const limited = s.ofType("error").find((e) => e.p.code === "RATE_LIMITED")!;
    expect(typeof limited.p.retry_after).toBe("number");
    expect(s.closed?.code).toBe(4429);
  });

  test("slow consumer: buffered over the limit → 4008", async () => {
    const h = host({ backpressureLimit: 1000 });
    const s = await h.connect();
    s.buffered = 5000;
    await until(() => s.closed !== null);
    expect(s.closed!.code).toBe(4008);
    expect(h.engine.metrics().slowConsumerCloses).toBe(1);
  });

  test("snapshots, batches, application messages, client publish", async () => {
    const seen: string[] = [];
    const h = host({
      clientPublish: true,
      hooks: {
        snapshot: (_c, topic) => (topic === "none" ? null : { type: "orders_snapshot", payload: { topic, rows: [1] } }),
        onMessage: (_c, m) => void seen.push(m.type),
      },
    });
    const s = await h.connect();
    s.receive({ c: "S", t: "sync_request", p: { topics: ["orders", "none"] } });
    await until(() => s.ofType("snapshot_complete").length === 1);
    expect(s.ofType("orders_snapshot")[0]!.c).toBe("S");
    expect(s.ofType("snapshot_complete")[0]!.p).toMatchObject({ success: true, snapshots_sent: 1 });
    s.receive({ t: "batch", p: { messages: [{ t: "one", p: {} }, { type: "two", payload: {} }], count: 2 } });
    s.receive({ t: "publish", p: { topic: "chat", type: "message", payload: { text: "hi" } }, cid: "c1" });
    await until(() => s.ofType("publish_ack").length === 1);
    expect(seen).toEqual(["one", "two"]);
    const ack = s.ofType("publish_ack")[0]!;
    expect(ack.cid).toBe("c1");
    expect(ack.p).toMatchObject({ topic: "chat", offset: 0 });
  });

  test("a client's publish id cannot pre-empt a backend publication with the same id", async () => {
    const h = host({ clientPublish: true });
    const s = await h.connect();
    s.receive({ t: "publish", p: { topic: "news", type: "forged", payload: { evil: 1 }, id: "backend-1" }, cid: "f1" });
    await until(() => s.ofType("publish_ack").length === 1);
    const backend = await h.engine.publish("news", "real", { ok: 1 }, { id: "backend-1" });
    expect(backend.offset).toBe(1);
    s.receive({ t: "publish", p: { topic: "news", type: "forged", payload: { evil: 1 }, id: "backend-1" }, cid: "f2" });
    await until(() => s.ofType("publish_ack").length === 2);
    expect(s.ofType("publish_ack")[1]!.p).toMatchObject({ topic: "news", offset: 0 });
  });

  test("drain closes every connection with 1012 and refuses new ones", async () => {
    const h = host({ drain: { batchSize: 2, intervalMs: 5 } });
    const sockets = await Promise.all([1, 2, 3, 4, 5].map(() => h.connect()));
    await h.engine.drain();
    expect(sockets.map((s) => s.closed?.code)).toEqual([1012, 1012, 1012, 1012, 1012]);
    await expect(h.connect()).rejects.toThrow("503");
  });
});

test("only sendable close codes reach the socket", () => {
  expect([1000, 1008, 1012, 4000, 4999, 3000].map(sendableCloseCode)).toEqual([1000, 1008, 1012, 4000, 4999, 3000]);
  expect([1004, 1005, 1006, 1015, 999, 5000, 2000, 4000.5, undefined].map(sendableCloseCode)).toEqual(Array(9).fill(undefined));
});
