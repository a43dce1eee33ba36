/**
 * PROTOCOL.md §3 wire variants: `?format=msgpack` → `M:` events; JSON above the 1024-byte
 * threshold → `C:` (zlib); `Z:` (zstd) only to clients that set `features.zstd`; inbound `C:` and
 * `M:` (with or without the prefix) accepted. Every body is decoded by the suite's own decoder.
 */
import { afterAll, describe, expect } from "bun:test";
import { deflateSync } from "node:zlib";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { ClientPool, connectReady, payloadOf, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { encodeMsgpackFrame, encodeZlibFrame, withPrefix } from "./frames.ts";
import { ofType, onTopic } from "./wire.ts";

const target = await startTarget({});
afterAll(() => target.stop());
const pool = new ClientPool();

/** A compressible payload whose JSON envelope is well above 1024 bytes. */
const bigPayload = () => ({ text: "the quick brown fox jumps over the lazy dog ".repeat(100), n: 1 });

describe("compression threshold", () => {
  testWith(target, ["jwt", "api"], "small events are text, events above 1024 bytes are C: (zlib)", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("zlib");
    await client.subscribe([topic]);
    await target.publish(topic, "small", { n: 1 });
    const big = bigPayload();
    await target.publish(topic, "big", big);
    const [small, large] = await client.waitForCount(onTopic(topic), 2);
    expect(small!.kind).toBe("text");
    expect(large!.kind).toBe("C");
    expect((large!.raw as Uint8Array).length).toBeLessThan(JSON.stringify(big).length);
    expect(large!.envelope!.t).toBe("big");
    expect(large!.envelope!.p).toEqual(big);
    expect(large!.envelope!.o).toBe(1);
  });

  testWith(target, ["jwt", "api"], "a client without features.zstd never gets Z:", async () => {
    const client = await connectReady(pool, target, { features: { zstd: false } });
    const topic = uniqueTopic("nozstd");
    await client.subscribe([topic]);
    for (let i = 0; i < 3; i++) await target.publish(topic, "big", bigPayload());
    const frames = await client.waitForCount(onTopic(topic), 3);
    expect(frames.map((f) => f.kind)).toEqual(["C", "C", "C"]);
    expect(client.frames.some((f) => f.kind === "Z")).toBe(false);
  });

  testWith(target, ["jwt", "api"], "a client with features.zstd gets Z: while a zlib client on the same topic gets C:", async () => {
    const zstd = await connectReady(pool, target, { features: { zstd: true } });
    const zlib = await connectReady(pool, target);
    expect(payloadOf(zstd.handshakeResult.hello).features.zstd).toBe(true);
    const topic = uniqueTopic("zstd");
    await zstd.subscribe([topic]);
    await zlib.subscribe([topic]);
    const big = bigPayload();
    await target.publish(topic, "big", big);
    await target.publish(topic, "small", { n: 2 });
    const [zBig, zSmall] = await zstd.waitForCount(onTopic(topic), 2);
    const [cBig] = await zlib.waitForCount(onTopic(topic), 2);
    expect(zBig!.kind).toBe("Z");
    expect(zBig!.envelope!.p).toEqual(big);
    expect(zSmall!.kind).toBe("text");
    expect(cBig!.kind).toBe("C");
    expect(cBig!.envelope!.id).toBe(zBig!.envelope!.id);
  });
});

describe("msgpack", () => {
  testWith(target, ["jwt", "api"], "format=msgpack → handshake in text, events as M: maps", async () => {
    const client = await connectReady(pool, target, { query: { format: "msgpack" } });
    expect(client.frames[0]!.kind).toBe("text"); // server_ready is always text
    expect(client.frames.find((f) => f.envelope?.t === "server_hello")!.kind).toBe("text");
    const topic = uniqueTopic("mp");
    await client.subscribe([topic]);
    await target.publish(topic, "mp_event", { price: 1.5, tags: ["a", "b"], nested: { ok: true } });
    await target.publish(topic, "mp_big", bigPayload());
    const [f1, f2] = await client.waitForCount(onTopic(topic), 2);
    for (const f of [f1!, f2!]) {
      expect(f.kind).toBe("M");
      expect(f.envelope!.tp).toBe(topic);
      expect(f.envelope!.e).toMatch(/^[0-9a-f]{8}$/);
    }
    expect(f1!.envelope!.o).toBe(0);
    expect(f1!.envelope!.t).toBe("mp_event");
    expect(f1!.envelope!.p).toEqual({ price: 1.5, tags: ["a", "b"], nested: { ok: true } });
    expect(f2!.envelope!.p).toEqual(bigPayload());
  });

  testWith(target, ["jwt"], "PONG stays a plaintext text frame on a msgpack connection", async () => {
    const client = await connectReady(pool, target, { query: { format: "msgpack" } });
    const since = client.mark();
    client.send({ c: "WSE", t: "ping", p: { timestamp: 5 } });
    const pong = await client.waitFor(ofType("PONG"), 5000, since);
    expect(pong.kind).toBe("text");
    expect((pong.raw as string).startsWith('{"c":"WSE","t":"PONG"')).toBe(true);
  });

  testWith(target, ["jwt"], "inbound M: msgpack is accepted (fix)", async () => {
    const client = await connectReady(pool, target, { query: { format: "msgpack" } });
    const since = client.mark();
    client.sendRaw(encodeMsgpackFrame({ c: "WSE", t: "ping", p: { timestamp: 77 } }));
    const pong = await client.waitForType("PONG", 5000, since);
    expect(payloadOf(pong).client_timestamp).toBe(77);
  });

  testWith(target, ["jwt"], "inbound msgpack without the M: prefix is accepted on a msgpack connection (fix)", async () => {
    const client = await connectReady(pool, target, { query: { format: "msgpack" } });
    const since = client.mark();
    client.sendRaw(msgpackEncode({ c: "WSE", t: "ping", p: { timestamp: 78 } }));
    const pong = await client.waitForType("PONG", 5000, since);
    expect(payloadOf(pong).client_timestamp).toBe(78);
  });
});

describe("inbound compression", () => {
  testWith(target, ["jwt"], "inbound C: frames are decompressed and handled (fix)", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("cin");
    const since = client.mark();
    client.sendRaw(encodeZlibFrame({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic] } }));
    const reply = await client.waitForType("subscription_update", 5000, since);
    expect(payloadOf(reply).success_topics).toEqual([topic]);
  });

  testWith(target, ["jwt"], "an inbound C: ping gets a PONG", async () => {
    const client = await connectReady(pool, target);
    const since = client.mark();
    client.sendRaw(withPrefix("C:", deflateSync(JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: 9 } }))));
    const pong = await client.waitForType("PONG", 5000, since);
    expect(payloadOf(pong).client_timestamp).toBe(9);
  });
});
