/**
 * Session internals that the wire tests do not pin byte for byte: the `server_ready` text, and
 * the compact topic bookkeeping (no Set until a second topic) behind `topics`/`subscriptions`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { silentLogger } from "../log.ts";
import { resolveOptions, type ServerOptions } from "../options.ts";
import { Engine } from "./engine.ts";
import type { HostSocket, UpgradeData } from "./host.ts";
import { createECDH } from "node:crypto";
import { messageEnvelope, Variant } from "./outbound.ts";
import type { Session } from "./session.ts";

class RecordingSocket implements HostSocket {
  readonly sent: Array<string | Uint8Array> = [];
  readonly channels = new Set<string>();
  send(frame: string | Uint8Array): number {
    this.sent.push(frame);
    return 1;
  }
  close(): void {}
  subscribe(channel: string): void {
    this.channels.add(channel);
  }
  unsubscribe(channel: string): void {
    this.channels.delete(channel);
  }
  getBufferedAmount(): number {
    return 0;
  }
  terminate(): void {}
}

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

function open(
  options: ServerOptions,
  userId: string,
  extra: Partial<Pick<UpgradeData, "msgpack" | "remoteAddress">> & { acl?: { allows(topic: string): boolean } } = {},
): { session: Session; socket: RecordingSocket } {
  const engine = new Engine(resolveOptions({ logger: silentLogger, ...options }));
  engines.push(engine);
  engine.setFanOut({ publish() {} });
  const socket = new RecordingSocket();
  const data: UpgradeData = {
    connectionId: "c0ffee00-0000-4000-8000-000000000001",
    identity: { userId, claims: { sub: userId }, acl: extra.acl ?? null },
    msgpack: extra.msgpack ?? false,
    initialTopics: [],
    remoteAddress: extra.remoteAddress,
  };
  const session = engine.open(socket, data)!;
  return { session, socket };
}

describe("server_ready", () => {
  for (const [options, userId] of [
    [{}, "plain-user"],
    [{ recovery: false, presence: false }, 'quote"back\\slash\u2028 ünï 🚀'],
  ] as const) {
    test(`is exactly JSON.stringify of the 2.x object (${JSON.stringify(options)})`, () => {
      const { session, socket } = open(options, userId);
      const text = socket.sent[0] as string;
      const sent = JSON.parse(text);
      const o = session.engine.options;
      const expected = {
        c: "WSE",
        t: "server_ready",
        id: sent.id,
        ts: sent.ts,
        seq: 1,
        v: 1,
        p: {
          message: "Connected to WSE server",
          details: {
            connection_id: session.connectionId,
            user_id: userId,
            server_time: sent.ts,
            version: 1,
            features: { compression: true, encryption: false, recovery: o.recovery, presence: o.presence, batching: true, priority_queue: true, msgpack: true },
          },
        },
      };
      expect(text).toBe(JSON.stringify(expected));
      expect(sent.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(sent.ts).toISOString()).toBe(sent.ts);
    });
  }
});

describe("topic bookkeeping", () => {
  test("none, one, many and back: membership, count, order and snapshots agree", () => {
    const { session } = open({}, "u");
    expect(session.topicCount).toBe(0);
    expect(session.topicList()).toEqual([]);
    expect([...session.topics]).toEqual([]);
    session.addTopic("a");
    session.addTopic("a");
    expect(session.topicCount).toBe(1);
    expect(session.hasTopic("a")).toBe(true);
    expect(session.hasTopic("b")).toBe(false);
    session.addTopic("b");
    session.addTopic("c");
    expect(session.topicList()).toEqual(["a", "b", "c"]);
    expect([...session.subscriptions]).toEqual(["a", "b", "c"]);
    expect(session.deleteTopic("x")).toBe(false);
    expect(session.deleteTopic("a")).toBe(true);
    expect(session.deleteTopic("a")).toBe(false);
    expect(session.topicList()).toEqual(["b", "c"]);
    expect(session.deleteTopic("c")).toBe(true);
    expect(session.topicList()).toEqual(["b"]);
    expect(session.hasTopic("b")).toBe(true);
    session.addTopic("d");
    expect(session.topicList()).toEqual(["b", "d"]);
    session.clearTopics();
    expect(session.topicCount).toBe(0);
    expect(session.hasTopic("b")).toBe(false);
  });

  test("topics is a snapshot: later changes do not show in a set taken before", () => {
    const { session } = open({}, "u");
    session.addTopic("a");
    const before = session.topics;
    session.addTopic("b");
    expect([...before]).toEqual(["a"]);
    expect([...session.topics]).toEqual(["a", "b"]);
  });

  test("presenceTopics is null until set, and settable back to null", () => {
    const { session } = open({}, "u");
    expect(session.presenceTopics).toBeNull();
    session.presenceTopics = null;
    expect(session.presenceTopics).toBeNull();
    (session.presenceTopics ??= new Set()).add("p");
    expect([...session.presenceTopics!]).toEqual(["p"]);
    session.presenceTopics = null;
    expect(session.presenceTopics).toBeNull();
  });
});

describe("compact fields", () => {
  test("closed and the wire variant share one slot without disturbing each other", () => {
    const { session } = open({}, "u", { msgpack: true });
    expect(session.variant).toBe(Variant.MSGPACK);
    expect(session.closed).toBe(false);
    session.closed = true;
    expect(session.closed).toBe(true);
    expect(session.variant).toBe(Variant.MSGPACK);
    session.closed = false;
    expect(session.closed).toBe(false);
    expect(session.variant).toBe(Variant.MSGPACK);
    const plain = open({}, "v").session;
    plain.closed = true;
    expect(plain.variant).toBe(Variant.JSON);
  });

  test("the ACL and the remote address come from the upgrade", () => {
    const acl = { allows: (topic: string) => topic.startsWith("public.") };
    const { session } = open({}, "u", { acl, remoteAddress: "10.1.2.3" });
    expect(session.acl).toBe(acl);
    expect(session.remoteAddress).toBe("10.1.2.3");
    const open2 = open({}, "v", { remoteAddress: "10.1.2.3" }).session;
    expect(open2.acl).toBeNull();
    expect(open2.remoteAddress).toBe("10.1.2.3");
    expect(open({}, "w").session.remoteAddress).toBeUndefined();
  });
});

describe("server_hello", () => {
  const clientKey = createECDH("prime256v1");
  clientKey.generateKeys();
  const publicKey = clientKey.getPublicKey().toString("base64");
  const cases: Array<{ name: string; options: ServerOptions; msgpack?: boolean; hello: Record<string, unknown> }> = [
    { name: "plain", options: {}, hello: { client_version: "t", protocol_version: 1 } },
    { name: "zstd, protocol 2, own version and limits", options: { serverVersion: 'v"1\\ü', pingIntervalMs: 1234, maxMessageSize: 4096, rateLimit: { capacity: 7, refillPerSecond: 3 }, recovery: false, presence: false }, hello: { protocol_version: 9, features: { zstd: true } } },
    { name: "msgpack asks for zstd", options: {}, msgpack: true, hello: { features: { zstd: true } } },
    { name: "encryption", options: {}, hello: { features: { encryption: true }, encryption_public_key: publicKey } },
    { name: "a bad key", options: {}, hello: { features: { encryption: true }, encryption_public_key: "AAAA" } },
  ];
  for (const c of cases) {
    test(`is exactly JSON.stringify of messageEnvelope's object (${c.name})`, () => {
      const { session, socket } = open(c.options, "u", { msgpack: c.msgpack });
      session.receive(JSON.stringify({ c: "WSE", t: "client_hello", p: c.hello }));
      const text = socket.sent.find((f) => typeof f === "string" && f.includes('"server_hello"')) as string;
      const sent = JSON.parse(text);
      const o = session.engine.options;
      const hello: Record<string, unknown> = {
        connection_id: session.connectionId,
        server_version: o.serverVersion,
        protocol_version: sent.p.protocol_version,
        server_time: sent.p.server_time,
        ping_interval: o.pingIntervalMs,
        features: {
          compression: true,
          encryption: session.key !== null,
          msgpack: true,
          recovery: o.recovery,
          presence: o.presence,
          batching: true,
          priority_queue: true,
          cluster: session.engine.clustered,
          zstd: session.variant === Variant.ZSTD,
        },
        limits: { max_message_size: o.maxMessageSize, rate_limit_capacity: o.rateLimit.capacity, rate_limit_refill: o.rateLimit.refillPerSecond },
      };
      if (session.key) hello.encryption_public_key = sent.p.encryption_public_key;
      const expected = { ...messageEnvelope("server_hello", hello, { category: "WSE" }), ts: sent.ts };
      expect(text).toBe(JSON.stringify(expected));
      expect(sent.p.protocol_version).toBe(c.hello.protocol_version === 9 ? 2 : 1);
      if (c.name === "encryption") expect(Buffer.from(sent.p.encryption_public_key, "base64")).toHaveLength(65);
      if (c.name === "a bad key") expect(socket.sent.some((f) => typeof f === "string" && f.includes("KEY_EXCHANGE_FAILED"))).toBe(true);
    });
  }
});

describe("subscribe", () => {
  test("duplicate topics in one request count once, in short and long lists", async () => {
    const { session, socket } = open({ compressionThreshold: 1_000_000 }, "u");
    expect(await session.subscribeTopics(["a", "b", "a", "c", "b"], { recover: false, authorize: true })).toEqual(["a", "b", "c"]);
    const long = Array.from({ length: 40 }, (_, i) => `t${i % 20}`);
    expect(await session.subscribeTopics(long, { recover: false, authorize: true })).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`));
    expect(session.topicCount).toBe(23);
    const replies = socket.sent.filter((f): f is string => typeof f === "string" && f.includes('"subscription_update"')).map((f) => JSON.parse(f));
    expect(replies.map((r) => r.p.success_topics.length)).toEqual([3, 20]);
    expect(replies.every((r) => r.p.failed_topics.length === 0)).toBe(true);
  });
});
