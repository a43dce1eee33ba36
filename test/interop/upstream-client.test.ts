/**
 * Our TypeScript client (`client/mod.ts`) against the upstream WSE 2.x server (PyPI `wse-server`
 * 2.5.1, started by `upstream_server.py` in drain mode with JWT, recovery and presence): the
 * handshake, broadcasts, stamped topic messages and recovery, encryption, `format=msgpack`,
 * presence, snapshots and client messages. See docs/UPSTREAM-NOTES.md for what upstream does.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { connect, type WSEClient, type WSEClientOptions, type WSEEvent } from "../../client/mod.ts";
import { ensureAlive, startUpstream, upstreamUnavailable, type UpstreamHost } from "./upstream-host.ts";

const unavailable = upstreamUnavailable();
if (unavailable) console.warn(`[interop] SKIP upstream-client tests: ${unavailable}`);
const it = unavailable ? test.skip : test;
const T = 30_000;

let host: UpstreamHost;
const clients: WSEClient[] = [];

beforeAll(async () => {
  if (!unavailable) host = await startUpstream();
}, 40_000);
beforeEach(async () => {
  if (!unavailable) host = await ensureAlive(host);
}, 40_000);
afterAll(async () => {
  await host?.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

function topic(prefix: string): string {
  return `${prefix}.${crypto.randomUUID().slice(0, 8)}`;
}

/** Every event a client dispatches, with a bounded wait for the next match. */
class Events {
  readonly all: WSEEvent[] = [];
  #waiters: Array<{ pred: (e: WSEEvent) => boolean; resolve: (e: WSEEvent) => void }> = [];
  constructor(client: WSEClient) {
    client.onAny((event) => {
      this.all.push(event);
      this.#waiters = this.#waiters.filter((w) => (w.pred(event) ? (w.resolve(event), false) : true));
    });
  }
  /** The first event (already seen or coming) matching `pred`. */
  wait(pred: (e: WSEEvent) => boolean, what: string, timeoutMs = 8000): Promise<WSEEvent> {
    const seen = this.all.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; saw ${this.all.map((e) => e.type).join(",")}`)), timeoutMs);
      this.#waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }
  /** Waits until `count` events of `topic` arrived; returns them in order. */
  async onTopic(t: string, count: number, timeoutMs = 8000): Promise<WSEEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.all.filter((e) => e.topic === t && e.category !== "client").length < count) {
      if (Date.now() > deadline) {
        throw new Error(`only ${this.all.filter((e) => e.topic === t).length}/${count} events on ${t}`);
      }
      await Bun.sleep(20);
    }
    return this.all.filter((e) => e.topic === t && e.category !== "client");
  }
}

async function open(user: string, options: WSEClientOptions = {}): Promise<{ client: WSEClient; events: Events }> {
  const client = await connect(host.wsUrl, {
    token: await host.token(user),
    reconnect: { baseDelay: 200, maxDelay: 1000, jitter: false },
    offlineQueue: false,
    ...options,
  });
  clients.push(client);
  return { client, events: new Events(client) };
}

describe("our client ↔ upstream wse-server 2.5.1", () => {
  it("completes the handshake and learns the server's features", async () => {
    const { client } = await open("ts-hello");
    expect(client.isReady).toBe(true);
    expect(client.connectionId).toBeTruthy();
    expect(client.recoveryEnabled).toBe(true);
  }, T);

  it("refuses a bad token with an auth error (no reconnect loop)", async () => {
    const forged = await host.token("x", -60);
    let error: unknown;
    try {
      const c = await connect(host.wsUrl, { token: forged, reconnect: { baseDelay: 100 } });
      clients.push(c);
    } catch (err) {
      error = err;
    }
    expect(error).toBeDefined();
    expect((error as Error).name).toBe("WSEAuthError");
  }, T);

  it("receives topic-less broadcasts", async () => {
    const { events } = await open("ts-bcast");
    await host.call("POST", "/api/broadcast", { type: "announcement", payload: { m: 1 } });
    const e = await events.wait((x) => x.type === "announcement", "announcement");
    expect(e.payload).toEqual({ m: 1 });
    expect(e.topic).toBeUndefined();
  }, T);

  it("subscribes and receives stamped topic messages in order", async () => {
    const { client, events } = await open("ts-topic");
    const t = topic("prices");
    const reply = await client.subscribe([t]);
    expect(reply.success).toBe(true);
    expect(reply.successTopics).toEqual([t]);
    const positions = [];
    for (let i = 0; i < 3; i++) positions.push(await host.publish(t, "price", { n: i }));
    const got = await events.onTopic(t, 3);
    expect(got.map((e) => e.payload.n)).toEqual([0, 1, 2]);
    expect(got.map((e) => e.offset)).toEqual(positions.map((p) => p.offset));
    expect(new Set(got.map((e) => e.epoch))).toEqual(new Set([positions[0]!.epoch]));
    expect(client.recoveryState[t]).toMatchObject({ epoch: positions[2]!.epoch, offset: positions[2]!.offset });
  }, T);

  it("receives direct events (binary JSON, and C: zlib above 1 KiB)", async () => {
    const { events } = await open("ts-direct");
    await sendDirect("ts-direct", "small", { a: 1 });
    const big = "z".repeat(5000);
    await sendDirect("ts-direct", "large", { big });
    expect((await events.wait((e) => e.type === "small", "small")).payload).toEqual({ a: 1 });
    expect((await events.wait((e) => e.type === "large", "large")).payload).toEqual({ big });
  }, T);

  it("recovers every publication missed while the server dropped the connection", async () => {
    const { client, events } = await open("ts-recover");
    const t = topic("recover");
    await client.subscribe([t]);
    await host.publish(t, "ev", { i: 0 });
    await events.onTopic(t, 1);
    let reconnects = 0;
    client.onStateChange((state) => {
      if (state === "reconnecting") reconnects++;
    });
    // Upstream's disconnect() sends a Close frame without a status code (1005).
    await disconnectUser("ts-recover");
    for (let i = 1; i <= 4; i++) await host.publish(t, "ev", { i });
    const got = await events.onTopic(t, 5, 15_000);
    expect(got.map((e) => e.payload.i)).toEqual([0, 1, 2, 3, 4]);
    expect(got.map((e) => e.offset)).toEqual([0, 1, 2, 3, 4].map((i) => got[0]!.offset! + i));
    expect(reconnects).toBeGreaterThanOrEqual(1);
    await Bun.sleep(300);
    expect((await events.onTopic(t, 5)).length).toBe(5); // no duplicate at the seam
  }, T);

  it("resubscribes several topics, each recovered from its own position", async () => {
    const { client, events } = await open("ts-multi");
    const [a, b] = [topic("a"), topic("b")];
    await client.subscribe([a, b]);
    for (let i = 0; i < 3; i++) await host.publish(a, "a", { i });
    await host.publish(b, "b", { i: 0 });
    await events.onTopic(a, 3);
    await events.onTopic(b, 1);
    await disconnectUser("ts-multi");
    await host.publish(a, "a", { i: 3 });
    await host.publish(b, "b", { i: 1 });
    await host.publish(b, "b", { i: 2 });
    expect((await events.onTopic(a, 4, 15_000)).map((e) => e.payload.i)).toEqual([0, 1, 2, 3]);
    expect((await events.onTopic(b, 3, 15_000)).map((e) => e.payload.i)).toEqual([0, 1, 2]);
  }, T);

  it("negotiates encryption and reads E: publications, direct events and replies", async () => {
    const { client, events } = await open("ts-enc", { encryption: true });
    expect(client.encrypted).toBe(true);
    const t = topic("sealed");
    const reply = await client.subscribe([t]);
    expect(reply.success).toBe(true);
    await host.publish(t, "classified", { x: 1 });
    expect((await events.onTopic(t, 1))[0]!.payload).toEqual({ x: 1 });
    await sendDirect("ts-enc", "sealed_direct", { y: 2 });
    expect((await events.wait((e) => e.type === "sealed_direct", "sealed_direct")).payload).toEqual({ y: 2 });
    expect(await client.send("sealed_note", { z: 3 })).toBe(true);
    await waitUntil(async () => (await host.call("GET", "/test/messages")).some((m: any) => m.type === "sealed_note"), "note at the app");
  }, T);

  it("recovers over an encrypted connection after a drop", async () => {
    const { client, events } = await open("ts-enc-rec", { encryption: true });
    const t = topic("enc-rec");
    await client.subscribe([t]);
    await host.publish(t, "ev", { i: 0 });
    await events.onTopic(t, 1);
    await disconnectUser("ts-enc-rec");
    for (let i = 1; i <= 3; i++) await host.publish(t, "ev", { i });
    expect((await events.onTopic(t, 4, 15_000)).map((e) => e.payload.i)).toEqual([0, 1, 2, 3]);
    expect(client.encrypted).toBe(true);
  }, T);

  it("format=msgpack: reads M: replies and direct events, and JSON-text publications", async () => {
    const { client, events } = await open("ts-mp", { format: "msgpack" });
    const t = topic("mp");
    const reply = await client.subscribe([t]); // the reply comes from send_event → M:
    expect(reply.success).toBe(true);
    await host.publish(t, "tick", { n: 1 }); // upstream publications stay JSON text
    expect((await events.onTopic(t, 1))[0]!.payload).toEqual({ n: 1 });
    await sendDirect("ts-mp", "packed", { list: [1, 2, 3], s: "é" });
    expect((await events.wait((e) => e.type === "packed", "packed")).payload).toEqual({ list: [1, 2, 3], s: "é" });
  }, T);

  it("format=msgpack with encryption: reads E: wrapping M: (what upstream sends)", async () => {
    const { client, events } = await open("ts-mp-enc", { format: "msgpack", encryption: true });
    const t = topic("mp-enc");
    expect((await client.subscribe([t])).success).toBe(true);
    await host.publish(t, "tick", { n: 2 });
    expect((await events.onTopic(t, 1))[0]!.payload).toEqual({ n: 2 });
    await sendDirect("ts-mp-enc", "packed", { k: "v" });
    expect((await events.wait((e) => e.type === "packed", "packed")).payload).toEqual({ k: "v" });
  }, T);

  it("sees presence joins, updates and leaves of other users", async () => {
    const t = topic("room");
    const { client: alice, events } = await open("ts-alice", { presence: { status: "here" } });
    await alice.subscribe([t], { presence: { status: "here" } });
    const { client: bob } = await open("ts-bob");
    await bob.subscribe([t], { presence: { status: "busy" } });
    const joined = await events.wait((e) => e.type === "presence_join" && e.payload.user_id === "ts-bob", "bob's join");
    expect(joined.payload.data).toEqual({ status: "busy" });
    expect(await bob.updatePresence({ status: "away" })).toBe(true);
    const updated = await events.wait((e) => e.type === "presence_update" && e.payload.user_id === "ts-bob", "bob's update");
    expect(updated.payload.data).toEqual({ status: "away" });
    await bob.close();
    await events.wait((e) => e.type === "presence_leave" && e.payload.user_id === "ts-bob", "bob's leave");
  }, T);

  it("requestSnapshot resolves with snapshot_complete after the snapshot event", async () => {
    const { client, events } = await open("ts-snap");
    const t = topic("snap");
    await host.publish(t, "state", { price: 7 });
    const done = await client.requestSnapshot([t]);
    expect(done.topics).toEqual([t]);
    const snap = await events.wait((e) => e.type === "topic_snapshot", "topic_snapshot");
    expect(snap.category).toBe("S");
    expect(snap.payload).toEqual({ topic: t, data: { price: 7 } });
  }, T);

  it("a drain (close 4300) makes the client reconnect; when a server is back it goes on", async () => {
    const { client, events } = await open("ts-drain");
    const t = topic("drain");
    await client.subscribe([t]);
    const before = await host.publish(t, "ev", { i: 0 });
    await events.onTopic(t, 1);
    const states: string[] = [];
    client.onStateChange((state) => states.push(state));
    let replyCount = 0;
    client.on("subscription_update", () => replyCount++); // internal type: not seen by onAny
    const replies = () => replyCount;
    const repliesBefore = replies();
    await host.call("POST", "/test/drain", { code: 4300, reason: "moving", timeout: 1 });
    await waitUntil(async () => states.includes("reconnecting"), "the client to start reconnecting");
    expect(client.state).not.toBe("closed");
    // A new upstream process on the same port and secret: a fresh memory history, a new epoch.
    const port = Number(new URL(host.wsUrl).port);
    await host.stop();
    host = await startUpstream([], { secret: host.secret, port });
    await waitUntil(async () => client.isReady, "the client to be ready again", 20_000);
    // The automatic resubscribe was answered by the new process.
    await waitUntil(async () => replies() > repliesBefore, "the resubscribe reply");
    const after = await host.publish(t, "ev", { i: 1 });
    expect(after.epoch).not.toBe(before.epoch);
    const got = await events.onTopic(t, 2, 15_000);
    expect(got[1]!.payload).toEqual({ i: 1 });
  }, 60_000);

  it("with no PONG for its encrypted pings, the server's own pings keep the client's idle check fed", async () => {
    const fast = await startUpstream(["--ping-interval=1", "--idle-timeout=5"]);
    try {
      const client = await connect(fast.wsUrl, {
        token: await fast.token("ts-idle"),
        encryption: true,
        heartbeatInterval: 500,
        idleTimeout: 4000, // 4 server ping intervals: a loaded machine can delay one by more than a second
        reconnect: { baseDelay: 200, maxDelay: 1000, jitter: false },
        offlineQueue: false,
      });
      clients.push(client);
      let reconnects = 0;
      client.onStateChange((state) => {
        if (state === "reconnecting") reconnects++;
      });
      await Bun.sleep(8500); // > client idle timeout twice over, > server idle timeout
      expect(reconnects).toBe(0);
      expect(client.isReady).toBe(true);
    } finally {
      await fast.stop();
    }
  }, T);

  it("send, sendWithRetry and sendBatch reach the application in order", async () => {
    const { client } = await open("ts-send");
    expect(await client.send("one", { i: 1 }, { correlationId: "c1" })).toBe(true);
    expect(await client.sendWithRetry("two", { i: 2 })).toBe(true);
    expect(await client.sendBatch([{ type: "three", payload: { i: 3 } }, { type: "four", payload: { i: 4 } }])).toBe(true);
    let mine: any[] = [];
    await waitUntil(async () => {
      mine = (await host.call("GET", "/test/messages")).filter((m: any) => m.userId === "ts-send");
      return mine.length >= 4;
    }, "four messages at the app");
    expect(mine.map((m) => [m.type, m.payload])).toEqual([
      ["one", { i: 1 }],
      ["two", { i: 2 }],
      ["three", { i: 3 }],
      ["four", { i: 4 }],
    ]);
    expect(mine[0].cid).toBe("c1");
  }, T);
});

/** `/test/send` once the host knows the user's connection (its connect event is drained asynchronously). */
async function sendDirect(user: string, type: string, payload: unknown): Promise<void> {
  await waitUntil(async () => (await host.call("POST", "/test/send", { userId: user, type, payload })).sent > 0, `a connection of ${user} at the host`);
}

/** Upstream `disconnect()` (a Close frame without status) of every connection of `user`. */
async function disconnectUser(user: string): Promise<void> {
  await waitUntil(async () => (await host.call("POST", "/api/disconnect", { user_id: user })).disconnected > 0, `a connection of ${user} at the host`);
}

async function waitUntil(cond: () => Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}
