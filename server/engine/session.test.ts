/**
 * Session internals that the wire tests do not pin byte for byte: the `server_ready` text, and
 * the compact topic bookkeeping (no Set until a second topic) behind `topics`/`subscriptions`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { silentLogger } from "../log.ts";
import { resolveOptions, type ServerOptions } from "../options.ts";
import { Engine } from "./engine.ts";
import type { HostSocket, UpgradeData } from "./host.ts";
import { Variant } from "./outbound.ts";
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
