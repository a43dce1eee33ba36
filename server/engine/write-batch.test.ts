/**
 * The write batcher on its own, and through the engine with a corking in-memory socket: frames
 * of a burst are written once per connection per turn, in order, behind nothing and ahead of
 * nothing that was sent after them.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { SessionKey } from "../../wasm/api.ts";
import { decodeFrame } from "../../wasm/frame.ts";
import { type Envelope, parseEnvelope } from "../../wasm/envelope.ts";
import { nativeCodec } from "../../wasm/native.ts";
import { silentLogger } from "../log.ts";
import { resolveOptions } from "../options.ts";
import { Engine } from "./engine.ts";
import type { HostSocket, UpgradeData } from "./host.ts";
import { type BatchTarget, type Frame, MAX_QUEUED_FRAMES, WriteBatcher } from "./write-batch.ts";

class Target implements BatchTarget {
  writes: Frame[][] = [];
  writeFrames(frames: readonly Frame[]): void {
    this.writes.push([...frames]);
  }
}

const microtasks = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("WriteBatcher", () => {
  test("one write per target per turn, frames in queue order", async () => {
    const batch = new WriteBatcher();
    const a = new Target();
    const b = new Target();
    batch.queue(a, "a1");
    batch.queue(b, "b1");
    batch.queue(a, "a2");
    expect(batch.has(a)).toBe(true);
    expect(batch.size).toBe(3);
    expect(a.writes).toEqual([]);
    await microtasks();
    expect(a.writes).toEqual([["a1", "a2"]]);
    expect(b.writes).toEqual([["b1"]]);
    expect(batch.has(a)).toBe(false);
    expect(batch.size).toBe(0);
  });

  test("a target's queue is written at once when it reaches MAX_QUEUED_FRAMES, order kept", async () => {
    const batch = new WriteBatcher();
    const a = new Target();
    const total = MAX_QUEUED_FRAMES * 2 + 3;
    for (let i = 0; i < total; i++) batch.queue(a, `f${i}`);
    expect(a.writes.map((w) => w.length)).toEqual([MAX_QUEUED_FRAMES, MAX_QUEUED_FRAMES]);
    await microtasks();
    expect(a.writes.map((w) => w.length)).toEqual([MAX_QUEUED_FRAMES, MAX_QUEUED_FRAMES, 3]);
    expect(a.writes.flat()).toEqual(Array.from({ length: total }, (_, i) => `f${i}`));
  });

  test("flushTarget writes one target now; the others wait for the turn", async () => {
    const batch = new WriteBatcher();
    const a = new Target();
    const b = new Target();
    batch.queue(a, "a1");
    batch.queue(b, "b1");
    batch.flushTarget(a);
    expect(a.writes).toEqual([["a1"]]);
    expect(b.writes).toEqual([]);
    await microtasks();
    expect(a.writes).toEqual([["a1"]]);
    expect(b.writes).toEqual([["b1"]]);
  });

  test("frames queued while writing go out in the next flush; a throwing target does not stop the others", async () => {
    const errors: unknown[] = [];
    const batch = new WriteBatcher((error) => errors.push(error));
    const later = new Target();
    const bad: BatchTarget = {
      writeFrames() {
        batch.queue(later, "queued during flush");
        throw new Error("boom");
      },
    };
    const good = new Target();
    batch.queue(bad, "x");
    batch.queue(good, "g");
    await microtasks();
    expect(errors.map(String)).toEqual(["Error: boom"]);
    expect(good.writes).toEqual([["g"]]);
    expect(later.writes).toEqual([["queued during flush"]]);
  });
});

/** An in-memory socket that records sends, and which sends happened inside one `cork`. */
class CorkSocket implements HostSocket {
  sends: Frame[] = [];
  /** Number of sends per cork call. */
  corks: number[] = [];
  closedWith: number | null = null;
  data!: UpgradeData;
  #corked = -1;
  constructor(readonly engine: Engine) {}
  send(frame: Frame): number {
    if (this.closedWith !== null) return 0;
    this.sends.push(frame);
    if (this.#corked >= 0) this.#corked++;
    return typeof frame === "string" ? frame.length : frame.byteLength;
  }
  cork(callback: () => void): void {
    this.#corked = 0;
    callback();
    this.corks.push(this.#corked);
    this.#corked = -1;
  }
  close(code: number): void {
    if (this.closedWith !== null) return;
    this.closedWith = code;
    this.sends.push(`<close ${code}>`);
    queueMicrotask(() => this.engine.socketClosed(this.data, code, ""));
  }
  subscribe(): void {}
  unsubscribe(): void {}
  getBufferedAmount(): number {
    return 0;
  }
  terminate(): void {
    this.close(1006);
  }
}

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

/** An engine with one encrypted connection subscribed to `topic`; returns its socket, key and id. */
async function encryptedConnection(topic: string, pingIntervalMs = 25_000): Promise<{ engine: Engine; socket: CorkSocket; key: SessionKey; id: string }> {
  const engine = new Engine(resolveOptions({ logger: silentLogger, pingIntervalMs }));
  engines.push(engine);
  engine.setFanOut({ publish() {} });
  const data = await engine.prepare(new Request("http://127.0.0.1/wse"));
  if (data instanceof Response) throw new Error(`refused ${data.status}`);
  const socket = new CorkSocket(engine);
  socket.data = data;
  engine.open(socket, data);
  const pair = nativeCodec.generateKeyPair();
  const hello = { t: "client_hello", p: { protocol_version: 2, features: { encryption: true }, encryption_public_key: Buffer.from(pair.publicKey).toString("base64") } };
  engine.message(data, JSON.stringify(hello));
  const serverHello = JSON.parse(socket.sends.at(-1) as string);
  const key = pair.deriveKey(new Uint8Array(Buffer.from(serverHello.p.encryption_public_key, "base64")));
  await engine.subscribe(data.connectionId, [topic]);
  await microtasks();
  socket.sends.length = 0;
  socket.corks.length = 0;
  return { engine, socket, key, id: data.connectionId };
}

function decoded(socket: CorkSocket, key: SessionKey): Array<Envelope | string> {
  return socket.sends.map((f) => (typeof f === "string" && f.startsWith("<") ? f : parseEnvelope(decodeFrame(f, nativeCodec, { key }))));
}

describe("encrypted fan-out through the batcher", () => {
  test("a burst of publications is one corked write per connection, offsets in order", async () => {
    const { engine, socket, key } = await encryptedConnection("t");
    for (let i = 0; i < 5; i++) void engine.publish("t", "tick", { i });
    expect(socket.sends).toEqual([]); // written at the end of the turn
    await microtasks();
    expect(socket.corks).toEqual([5]);
    const envs = decoded(socket, key) as Envelope[];
    expect(envs.map((e) => e.o)).toEqual([0, 1, 2, 3, 4]);
    expect(envs.map((e) => e.p.i)).toEqual([0, 1, 2, 3, 4]);
  });

  test("a direct send in the same turn goes out after the queued publications", async () => {
    const { engine, socket, key, id } = await encryptedConnection("t");
    void engine.publish("t", "tick", { i: 0 });
    void engine.publish("t", "tick", { i: 1 });
    expect(engine.send(id, "direct", { after: true })).toBe(true);
    void engine.publish("t", "tick", { i: 2 });
    await microtasks();
    const types = (decoded(socket, key) as Envelope[]).map((e) => (e.t === "tick" ? `tick${e.p.i}` : e.t));
    expect(types).toEqual(["tick0", "tick1", "direct", "tick2"]);
  });

  test("a client ping answered in the same turn is written behind the queued publications", async () => {
    const { engine, socket, key } = await encryptedConnection("t");
    void engine.publish("t", "tick", { i: 0 });
    engine.message(engine.sessions.values().next().value!, JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: Date.now() } }));
    await microtasks();
    const types = decoded(socket, key).map((e) => (typeof e === "string" ? e : e.t));
    expect(types).toEqual(["tick", "PONG"]);
  });

  test("closing in the same turn writes the queued publications before the close frame", async () => {
    const { engine, socket, key, id } = await encryptedConnection("t");
    for (let i = 0; i < 3; i++) void engine.publish("t", "tick", { i });
    expect(await engine.disconnect({ connectionId: id, code: 4000 })).toBe(1);
    await microtasks();
    const seen = decoded(socket, key).map((e) => (typeof e === "string" ? e : e.o));
    expect(seen).toEqual([0, 1, 2, "<close 4000>"]);
  });

  test("broadcasts to encrypted connections ride the same queue", async () => {
    const { engine, socket, key } = await encryptedConnection("t");
    void engine.publish("t", "tick", { i: 0 });
    await engine.broadcast("notice", { all: true });
    void engine.publish("t", "tick", { i: 1 });
    await microtasks();
    const types = (decoded(socket, key) as Envelope[]).map((e) => (e.t === "tick" ? `tick${e.p.i}` : e.t));
    expect(types).toEqual(["tick0", "notice", "tick1"]);
  });

  test("each encrypted delivery counts once in messagesOut and bytesOut", async () => {
    const { engine, socket } = await encryptedConnection("t");
    const before = { ...engine.counters };
    for (let i = 0; i < 3; i++) void engine.publish("t", "tick", { i });
    await microtasks();
    expect(socket.sends.length).toBe(3);
    expect(engine.counters.messagesOut - before.messagesOut).toBe(3);
    const bytes = socket.sends.reduce((n, f) => n + (typeof f === "string" ? f.length : f.byteLength), 0);
    expect(engine.counters.bytesOut - before.bytesOut).toBe(bytes);
  });

  test("a server ping to an encrypted connection counts once", async () => {
    const { engine, socket } = await encryptedConnection("t", 20);
    const before = engine.counters.messagesOut;
    const deadline = Date.now() + 3000;
    while (!socket.sends.some((f) => typeof f === "string" && f.startsWith('{"c":"WSE","t":"ping"')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const pings = socket.sends.filter((f) => typeof f === "string" && f.startsWith('{"c":"WSE","t":"ping"')).length;
    expect(pings).toBeGreaterThan(0);
    expect(engine.counters.messagesOut - before).toBe(pings);
  });
});
