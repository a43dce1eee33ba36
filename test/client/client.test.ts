/**
 * End-to-end tests of the client against the real server (`bun server/main.ts`) over loopback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  connect,
  WSEAuthError,
  WSEClient,
  WSEConnectionError,
  type WSEEvent,
  WSERateLimitError,
  WSETimeoutError,
} from "../../client/mod.ts";
import type { TopicSequencer } from "../../wasm/api.ts";
import { createSequencer } from "../../wasm/mod.ts";
import { mintToken, publish, type ServerProcess, sleep, startServer, streamProblems, waitFor } from "./support.ts";

let server: ServerProcess;
let token: string;

beforeAll(async () => {
  server = await startServer();
  token = await mintToken("alice");
});

afterAll(async () => {
  await server?.kill();
  if (process.env.CLIENT_TEST_LOG) console.log(server?.log());
});

function collect(client: WSEClient): WSEEvent[] {
  const events: WSEEvent[] = [];
  client.onAny((e) => events.push(e));
  return events;
}

describe("client against the real server", () => {
  test("handshake, subscribe, ordered events with every field, stats", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.basic"] });
    expect(client.state).toBe("ready");
    expect(client.isConnected && client.isReady && client.isFullyReady).toBe(true);
    expect(client.recoveryEnabled).toBe(true);
    expect([...client.subscribedTopics]).toEqual(["e2e.basic"]);
    const positions = [];
    for (let i = 0; i < 5; i++) positions.push(await publish(server, "e2e.basic", "tick", { i }));
    const got: WSEEvent[] = [];
    for (let i = 0; i < 5; i++) got.push(await client.recv({ timeout: 3000 }));
    expect(got.map((e) => e.payload.i)).toEqual([0, 1, 2, 3, 4]);
    expect(got.map((e) => e.offset)).toEqual(positions.map((p) => p.offset));
    const e = got[0];
    expect(e.type).toBe("tick");
    expect(e.topic).toBe("e2e.basic");
    expect(e.epoch).toMatch(/^[0-9a-f]{8}$/);
    expect(e.category).toBe("U");
    expect(typeof e.id).toBe("string");
    expect(Date.parse(e.timestamp!)).toBeGreaterThan(Date.now() - 60_000);
    expect(client.recoveryState["e2e.basic"]).toEqual({ epoch: e.epoch!, offset: positions[4].offset });
    const stats = client.getStats();
    expect(stats.state).toBe("ready");
    expect(stats.connectionId).toBeTruthy();
    expect(stats.messagesReceived).toBeGreaterThanOrEqual(8);
    expect(stats.messagesSent).toBeGreaterThanOrEqual(3);
    expect(stats.bytesReceived).toBeGreaterThan(0);
    expect(stats.circuitBreaker.state).toBe("closed");
    expect(stats.rateLimiter.capacity).toBe(1000);
    expect(stats.sequencer.topicPositions).toBe(1);
    expect(stats.offlineQueue?.size).toBe(0);
    await expect(client.recv({ timeout: 100 })).rejects.toBeInstanceOf(WSETimeoutError);
  }, 20_000);

  test("for await yields events and ends when the client closes", async () => {
    const client = await connect(server.url, { token, topics: ["e2e.iter"] });
    const seen: number[] = [];
    const loop = (async () => {
      for await (const event of client) {
        if (event.topic === "e2e.iter") seen.push(event.payload.n as number);
        if (seen.length === 3) await client.close();
      }
    })();
    for (let n = 1; n <= 3; n++) await publish(server, "e2e.iter", "n", { n });
    await loop;
    expect(seen).toEqual([1, 2, 3]);
    expect(client.state).toBe("closed");
  }, 20_000);

  test("end-to-end encryption and zstd: events arrive decrypted, stats say encrypted", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.secret"], encryption: true, zstd: true });
    expect(client.encrypted).toBe(true);
    const big = "x".repeat(5000); // above the compression threshold
    await publish(server, "e2e.secret", "doc", { big });
    const event = await client.recv({ timeout: 3000 });
    expect(event.payload.big).toBe(big);
    expect(client.getStats().encryption).toEqual({ enabled: true, decryptFailures: 0 });
    // Our pings are encrypted (E:) once the key exists; the server still answers them.
    await waitFor(() => client.connectionQuality !== "unknown", 3000, "a PONG to an encrypted ping");
    // Client → server traffic is encrypted too; a publish round-trips through the server.
    const ack = await client.publish("e2e.secret", "note", { hello: "world" });
    expect(ack.topic).toBe("e2e.secret");
    const echoed = await client.recv({ timeout: 3000 });
    expect(echoed.payload).toEqual({ hello: "world" });
    expect(echoed.offset).toBe(ack.offset);
  }, 20_000);

  test("msgpack format", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.mp"], format: "msgpack" });
    await publish(server, "e2e.mp", "m", { list: [1, 2, 3], nested: { ok: true } });
    const event = await client.recv({ timeout: 3000 });
    expect(event.payload).toEqual({ list: [1, 2, 3], nested: { ok: true } });
    expect(event.topic).toBe("e2e.mp");
    // msgpack + E2E + a body above the compression threshold.
    await using secure = await connect(server.url, { token, topics: ["e2e.mp2"], format: "msgpack", encryption: true });
    await publish(server, "e2e.mp2", "m", { big: "q".repeat(3000) });
    expect(((await secure.recv({ timeout: 3000 })).payload.big as string).length).toBe(3000);
    expect(secure.getStats().encryption).toEqual({ enabled: true, decryptFailures: 0 });
  }, 20_000);

  test("a bad token is final: WSEAuthError with 4401, no reconnect loop", async () => {
    const error = await connect(server.url, { token: "not-a-jwt" }).catch((e) => e);
    expect(error).toBeInstanceOf(WSEAuthError);
    expect(error.closeCode).toBe(4401);
    expect(error.code).toMatch(/AUTH/);
    const client = new WSEClient(server.url, { token: "not-a-jwt", retryInitialConnect: true, reconnect: { baseDelay: 10 } });
    const errors: Error[] = [];
    client.onError((e) => errors.push(e));
    await expect(client.connect()).rejects.toBeInstanceOf(WSEAuthError);
    expect(client.state).toBe("closed");
    await sleep(200);
    expect(client.getStats().reconnectCount).toBe(0);
  }, 20_000);

  test("an expired token sent as ?token= (the browser path) is refused too", async () => {
    const { SignJWT } = await import("jose");
    const expired = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("bob").setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode("client-tests-secret-0123456789abcdef"));
    const error = await connect(server.url, { token: expired, tokenInQuery: true }).catch((e) => e);
    expect(error).toBeInstanceOf(WSEAuthError);
    const ok = await connect(server.url, { token, tokenInQuery: true });
    expect(ok.isFullyReady).toBe(true);
    await ok.close();
  }, 20_000);

  test("connection refused: connect() rejects with WSEConnectionError and leaves nothing running", async () => {
    const error = await connect("ws://127.0.0.1:1/wse", { token, connectTimeout: 2000 }).catch((e) => e);
    expect(error).toBeInstanceOf(WSEConnectionError);
    await expect(connect("http://", {})).rejects.toBeInstanceOf(WSEConnectionError);
    expect(() => new WSEClient(undefined, {})).toThrow(TypeError);
    expect(() => new WSEClient(server.url, { reconnect: { mode: "bogus" as never } })).toThrow(RangeError);
  }, 20_000);

  test("socket dropped, server up: recovered:true, replay fills the gap, no duplicate", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.drop"], reconnect: { baseDelay: 50, jitter: false } });
    const events = collect(client);
    for (let i = 0; i < 5; i++) await publish(server, "e2e.drop", "n", { i });
    const data = () => events.filter((e) => e.topic === "e2e.drop" && e.category === "U");
    await waitFor(() => data().length === 5, 5000, "first 5 events");
    // Drop the socket from the server side, publish while the client is away.
    const cid = client.connectionId!;
    const res = await fetch(`${server.http}/api/disconnect`, {
      method: "POST",
      headers: { authorization: "Bearer client-tests-api-key", "content-type": "application/json" },
      body: JSON.stringify({ connection_id: cid, code: 4008 }),
    });
    expect(res.ok).toBe(true);
    await waitFor(() => client.state !== "ready", 3000, "the drop");
    for (let i = 5; i < 10; i++) await publish(server, "e2e.drop", "n", { i });
    await waitFor(() => data().length === 10, 8000, "replayed events");
    for (let i = 10; i < 12; i++) await publish(server, "e2e.drop", "n", { i });
    await waitFor(() => data().length === 12, 5000, "live events after recovery");
    expect(data().map((e) => e.payload.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(streamProblems(events, "e2e.drop")).toEqual([]);
    const recovery = events.find((e) => e.type === "recovery");
    expect(recovery?.payload).toEqual({ topic: "e2e.drop", recovered: true, count: 5 });
    expect(events.some((e) => e.type === "discontinuity")).toBe(false);
    expect(client.getStats().reconnectCount).toBe(1);
    expect(client.getStats().sequencer.recoveriesSucceeded).toBe(1);
  }, 20_000);

  test("a lost frame is a gap: one recovery request, the replay fills it, no dup", async () => {
    // Simulated loss: the first sight of offsets 3 and 4 is dropped before the client sees it,
    // as if those frames never arrived.
    const real = createSequencer();
    const lose = new Set([3, 4]);
    const lossy: TopicSequencer = {
      check: (topic, epoch, offset) => {
        if (topic === "e2e.gap" && lose.delete(offset)) return "duplicate";
        return real.check(topic, epoch, offset);
      },
      reset: (t, e, o) => real.reset(t, e, o),
      position: (t) => real.position(t),
      forget: (t) => real.forget(t),
      positions: () => real.positions(),
    };
    await using client = await connect(server.url, { token, topics: ["e2e.gap"], sequencer: lossy });
    const events = collect(client);
    const data = () => events.filter((e) => e.topic === "e2e.gap" && e.category === "U");
    for (let i = 0; i < 12; i++) await publish(server, "e2e.gap", "n", { i });
    await waitFor(() => data().length === 12, 8000, "all 12 events after recovery");
    await sleep(100);
    expect(data().map((e) => e.payload.i)).toEqual([...Array(12).keys()]);
    expect(streamProblems(events, "e2e.gap")).toEqual([]);
    const stats = client.getStats().sequencer;
    expect(stats.gapsDetected).toBeGreaterThanOrEqual(1);
    expect(stats.recoveryRequests).toBe(1);
    expect(events.some((e) => e.type === "discontinuity")).toBe(false);
    expect(events.filter((e) => e.type === "recovery").length).toBe(1);
  }, 20_000);

  test("forceReconnect keeps the stream whole", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.force"] });
    const events = collect(client);
    const publisher = (async () => {
      for (let i = 0; i < 40; i++) {
        await publish(server, "e2e.force", "n", { i });
        await sleep(5);
      }
    })();
    await sleep(60);
    client.forceReconnect();
    await waitFor(() => client.state === "ready" && client.getStats().reconnectCount === 1, 5000, "the first reconnect");
    await sleep(30);
    client.forceReconnect();
    await publisher;
    await waitFor(() => events.filter((e) => e.topic === "e2e.force" && e.category === "U").length >= 40, 8000, "40 events");
    await sleep(100);
    const data = events.filter((e) => e.topic === "e2e.force" && e.category === "U");
    expect(data.map((e) => e.payload.i)).toEqual([...Array(40).keys()]);
    expect(streamProblems(events, "e2e.force")).toEqual([]);
    expect(client.getStats().reconnectCount).toBe(2);
  }, 20_000);

  test("offline queue: sends while disconnected are flushed after reconnect, highest priority first", async () => {
    await using watcher = await connect(server.url, { token: await mintToken("watcher"), topics: ["e2e.offline"] });
    const seen = collect(watcher);
    const client = new WSEClient(server.url, { token });
    expect(await client.send("publish", { topic: "e2e.offline", type: "low", payload: { n: 1 } }, { priority: 1 })).toBe(false);
    expect(await client.send("publish", { topic: "e2e.offline", type: "high", payload: { n: 2 } }, { priority: 10 })).toBe(false);
    expect(await client.send("publish", { topic: "e2e.offline", type: "normal", payload: { n: 3 } })).toBe(false);
    expect(client.getStats().offlineQueue?.size).toBe(3);
    await client.connect();
    await waitFor(() => seen.filter((e) => e.topic === "e2e.offline").length === 3, 5000, "flushed messages");
    expect(seen.filter((e) => e.topic === "e2e.offline").map((e) => e.type)).toEqual(["high", "normal", "low"]);
    expect(client.getStats().offlineQueue?.size).toBe(0);
    await client.close();
  }, 20_000);

  test("heartbeat measures latency and quality", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.hb"], heartbeatInterval: 100 });
    await waitFor(() => client.getStats().network.latencyMs > 0 || client.connectionQuality !== "unknown", 3000, "a PONG");
    expect(["excellent", "good"]).toContain(client.connectionQuality);
    expect(client.getStats().network.packetLoss).toBe(0);
  }, 20_000);

  test("idle timeout: no frame for idleTimeout ms → the client reconnects by itself", async () => {
    // The server's pings come every 25 s and our heartbeat is slow, so 300 ms of silence trips it.
    await using client = await connect(server.url, { token, topics: ["e2e.idle"], heartbeatInterval: 60_000, idleTimeout: 300, reconnect: { baseDelay: 20 } });
    await waitFor(() => client.getStats().reconnectCount >= 1, 5000, "an idle reconnect");
    await waitFor(() => client.state === "ready", 3000, "ready again");
    await publish(server, "e2e.idle", "n", { ok: 1 });
    const e = await client.recv({ timeout: 3000 });
    expect(e.payload).toEqual({ ok: 1 });
  }, 20_000);

  test("publish, presence and presence events between two users", async () => {
    await using alice = await connect(server.url, { token, topics: [] });
    await using bob = await connect(server.url, { token: await mintToken("bob") });
    const aliceEvents = collect(alice);
    await alice.subscribe(["e2e.room"], { presence: { name: "Alice" } });
    await bob.subscribe(["e2e.room"], { presence: { name: "Bob" } });
    await waitFor(() => aliceEvents.some((e) => e.type === "presence_join" && e.payload.user_id === "bob"), 3000, "bob's join");
    const who = await alice.presence("e2e.room");
    expect(Object.keys(who.members).sort()).toEqual(["alice", "bob"]);
    expect(who.members.bob.data).toEqual({ name: "Bob" });
    expect(who.numUsers).toBe(2);
    const ack = await bob.publish("e2e.room", "chat_message", { text: "hi" });
    expect(ack.epoch).toMatch(/^[0-9a-f]{8}$/);
    await waitFor(() => aliceEvents.some((e) => e.type === "chat_message"), 3000, "the chat message");
    await bob.close();
    await waitFor(() => aliceEvents.some((e) => e.type === "presence_leave" && e.payload.user_id === "bob"), 3000, "bob's leave");
  }, 20_000);

  test("unsubscribe stops delivery and forgets the position", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.unsub", "e2e.keep"] });
    await publish(server, "e2e.unsub", "n", { a: 1 });
    await client.recv({ timeout: 3000 });
    const result = await client.unsubscribe(["e2e.unsub"]);
    expect(result.success).toBe(true);
    expect(client.subscribedTopics.has("e2e.unsub")).toBe(false);
    expect(client.recoveryState["e2e.unsub"]).toBeUndefined();
    await publish(server, "e2e.unsub", "n", { a: 2 });
    await publish(server, "e2e.keep", "n", { b: 1 });
    const next = await client.recv({ timeout: 3000 });
    expect(next.topic).toBe("e2e.keep");
  }, 20_000);

  test("circuit breaker: 5 failed attempts open it; attempts stop until it half-opens", async () => {
    const client = new WSEClient("ws://127.0.0.1:1/wse", {
      token,
      retryInitialConnect: true,
      reconnect: { baseDelay: 10, jitter: false, maxDelay: 10 },
      circuitBreaker: { resetTimeout: 400 },
      connectTimeout: 1000,
    });
    const errors: Error[] = [];
    client.onError((e) => errors.push(e));
    const pending = client.connect().catch((e) => e);
    await waitFor(() => errors.some((e) => e.name === "WSECircuitBreakerError"), 5000, "the breaker to open");
    const failuresBeforeOpen = errors.filter((e) => e.name === "WSEConnectionError").length;
    expect(failuresBeforeOpen).toBe(5);
    expect(client.getStats().circuitBreaker.state).toBe("open");
    await sleep(200);
    expect(errors.filter((e) => e.name === "WSEConnectionError").length).toBe(5); // nothing tried while open
    await waitFor(() => errors.filter((e) => e.name === "WSEConnectionError").length > 5, 3000, "a half-open probe");
    await client.close();
    expect(await pending).toBeInstanceOf(WSEConnectionError);
  }, 20_000);

  test("bad input to the API is refused clearly and the client keeps working", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.bad"] });
    await expect(client.subscribe([""])).rejects.toBeInstanceOf(TypeError);
    await expect(client.subscribe(["a\u0001b"])).rejects.toBeInstanceOf(RangeError);
    await expect(client.send("", {})).rejects.toBeInstanceOf(TypeError);
    await expect(client.send("x", [] as never)).rejects.toBeInstanceOf(TypeError);
    await expect(client.sendBatch([])).rejects.toBeInstanceOf(TypeError);
    await expect(client.publish("t", "")).rejects.toBeInstanceOf(TypeError);
    expect(() => client.on("x", 5 as never)).toThrow(TypeError);
    expect(await client.sendBatch([{ type: "a", payload: { n: 1 } }, { type: "b" }])).toBe(true);
    await publish(server, "e2e.bad", "n", { still: "alive" });
    expect((await client.recv({ timeout: 3000 })).payload).toEqual({ still: "alive" });
  }, 20_000);

  test("requestSnapshot resolves with snapshot_complete; sendWithRetry waits out the bucket", async () => {
    await using client = await connect(server.url, { token, topics: ["e2e.snap"], rateLimit: { capacity: 1, refillRate: 20 } });
    const done = await client.requestSnapshot(["e2e.snap"]);
    expect(done).toMatchObject({ success: true, topics: ["e2e.snap"] });
    expect(await client.send("first", {})).toBe(true);
    await expect(client.send("second", {})).rejects.toBeInstanceOf(WSERateLimitError);
    expect(await client.sendWithRetry("second", {})).toBe(true);
  }, 20_000);

  test("client token bucket throws WSERateLimitError when empty", async () => {
    await using client = await connect(server.url, { token, rateLimit: { capacity: 3, refillRate: 0 } });
    let error: unknown;
    for (let i = 0; i < 10 && !error; i++) {
      try {
        await client.send("noop", { i });
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(WSERateLimitError);
    expect((error as WSERateLimitError).retryAfter).toBe(Infinity);
  }, 20_000);
});

describe("server restart mid-stream", () => {
  test("SIGKILL and restart (memory broker state lost): no duplicates, one discontinuity, stream continues", async () => {
    const first = await startServer();
    let second: ServerProcess | undefined;
    try {
      // Delays long enough that the breaker (5 failures) does not open while the server restarts.
      const client = await connect(first.url, { token, topics: ["e2e.restart"], reconnect: { baseDelay: 300, maxDelay: 1000, jitter: false } });
      const events = collect(client);
      const states: string[] = [];
      client.onStateChange((s) => states.push(s));
      for (let i = 0; i < 10; i++) await publish(first, "e2e.restart", "n", { i, run: 1 });
      await waitFor(() => events.filter((e) => e.payload.run === 1).length === 10, 5000, "run 1");
      await first.kill("SIGKILL");
      await waitFor(() => client.state === "reconnecting", 5000, "reconnecting");
      second = await startServer({ port: first.port });
      await waitFor(() => client.state === "ready", 15_000, "ready on the new server");
      for (let i = 0; i < 10; i++) await publish(second, "e2e.restart", "n", { i, run: 2 });
      await waitFor(() => events.filter((e) => e.payload.run === 2).length === 10, 5000, "run 2");
      expect(streamProblems(events, "e2e.restart")).toEqual([]);
      const gaps = events.filter((e) => e.type === "discontinuity");
      expect(gaps.length).toBe(1);
      expect(gaps[0].payload).toMatchObject({ topic: "e2e.restart", previous: { offset: 9 } });
      expect(["epoch_changed", "no_history"]).toContain(gaps[0].payload.reason as string);
      const run1 = events.filter((e) => e.payload.run === 1);
      const run2 = events.filter((e) => e.payload.run === 2);
      expect(run1.map((e) => e.payload.i)).toEqual([...Array(10).keys()]);
      expect(run2.map((e) => e.payload.i)).toEqual([...Array(10).keys()]);
      expect(run2[0].epoch).not.toBe(run1[0].epoch);
      // The discontinuity comes before the first event of the new stream.
      expect(events.indexOf(gaps[0])).toBeLessThan(events.indexOf(run2[0]));
      expect(states).toContain("reconnecting");
      expect(client.getStats().reconnectCount).toBe(1);
      await client.close();
    } finally {
      await first.kill();
      await second?.kill();
    }
  }, 20_000);

  test("SIGKILL while a publisher is running: what arrived is whole, nothing twice, the loss is reported", async () => {
    const first = await startServer();
    let second: ServerProcess | undefined;
    try {
      const client = await connect(first.url, { token, topics: ["e2e.live"], reconnect: { baseDelay: 300, maxDelay: 1000, jitter: false } });
      const events = collect(client);
      const data = (run: number) => events.filter((e) => e.topic === "e2e.live" && e.payload.run === run);
      let published = 0;
      let stop = false;
      const publisher = (async () => {
        while (!stop) {
          try {
            await publish(first, "e2e.live", "n", { i: published, run: 1 });
            published++;
          } catch {
            return; // the server is gone
          }
        }
      })();
      await waitFor(() => data(1).length >= 20, 5000, "the stream to be flowing");
      await first.kill("SIGKILL"); // mid-stream: the publisher is still running
      stop = true;
      await publisher;
      second = await startServer({ port: first.port });
      await waitFor(() => client.state === "ready", 15_000, "ready on the new server");
      for (let i = 0; i < 5; i++) await publish(second, "e2e.live", "n", { i, run: 2 });
      await waitFor(() => data(2).length === 5, 5000, "run 2");
      const run1 = data(1).map((e) => e.payload.i as number);
      // A prefix of what was published, in order, no duplicates (the rest died with the server).
      expect(run1).toEqual([...Array(run1.length).keys()]);
      expect(run1.length).toBeLessThanOrEqual(published);
      expect(data(2).map((e) => e.payload.i)).toEqual([0, 1, 2, 3, 4]);
      expect(streamProblems(events, "e2e.live")).toEqual([]);
      const gaps = events.filter((e) => e.type === "discontinuity");
      expect(gaps.length).toBe(1);
      expect(gaps[0].payload).toMatchObject({ topic: "e2e.live", previous: { offset: run1.length - 1 } });
      await client.close();
    } finally {
      await first.kill();
      await second?.kill();
    }
  }, 30_000);
});

describe("client lifecycle edges", () => {
  test("concurrent connect() calls share one connection", async () => {
    const server2 = await startServer();
    try {
      const client = new WSEClient(server2.url, { token });
      await Promise.all([client.connect(), client.connect(), client.connect()]);
      expect(client.state).toBe("ready");
      const metrics = await (await fetch(`${server2.http}/metrics`)).text();
      expect(metrics).toMatch(/^wse_connections_total 1$/m);
      expect(metrics).toMatch(/^wse_connections 1$/m);
      await client.close();
    } finally {
      await server2.kill();
    }
  }, 20_000);

  test("a refused origin (4403) is final: WSEAuthError, no reconnect loop", async () => {
    const strict = await startServer({ args: ["--origins", "http://good.example"] });
    try {
      const errors: Error[] = [];
      const client = new WSEClient(strict.url, { token, headers: { Origin: "http://evil.example" }, retryInitialConnect: true, reconnect: { baseDelay: 10 } });
      client.onError((e) => errors.push(e));
      const error = await client.connect().catch((e) => e);
      expect(error).toBeInstanceOf(WSEAuthError);
      expect(error.closeCode).toBe(4403);
      expect(error.code).toBe("ORIGIN_NOT_ALLOWED");
      expect(client.state).toBe("closed");
      const ok = await connect(strict.url, { token, headers: { Origin: "http://good.example" } });
      expect(ok.isFullyReady).toBe(true);
      await ok.close();
    } finally {
      await strict.kill();
    }
  }, 20_000);
});
