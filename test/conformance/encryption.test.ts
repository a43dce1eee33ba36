/**
 * PROTOCOL.md §6 end-to-end encryption, checked with the suite's own WebCrypto implementation
 * (ECDH P-256, HKDF-SHA256 with a zero salt and info `wse-encryption/aes-gcm-key`, AES-256-GCM,
 * `E:` ‖ IV ‖ ciphertext ‖ tag): once the key exists every application frame is `E:`, heartbeats
 * stay plaintext, each frame has a fresh IV, a bad key falls back to plaintext, a repeated hello
 * keeps the key.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { KeyExchange, withPrefix, utf8 } from "./frames.ts";
import { deflateSync } from "node:zlib";
import { ofType, onTopic, sleep } from "./wire.ts";

const target = await startTarget({ presence: true, clientPublish: true });
afterAll(() => target.stop());
const pool = new ClientPool();

const HEARTBEATS = new Set(["ping", "PONG"]);
const HANDSHAKE = new Set(["server_ready", "server_hello"]);

describe("key exchange", () => {
  testWith(target, ["jwt"], "server_hello (plaintext) returns a 65-byte P-256 key and encryption:true", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    const helloFrame = client.frames.find((f) => f.envelope?.t === "server_hello")!;
    expect(helloFrame.kind).toBe("text");
    const p = payloadOf(helloFrame.envelope);
    expect(p.features.encryption).toBe(true);
    const raw = Buffer.from(p.encryption_public_key, "base64");
    expect(raw.length).toBe(65);
    expect(raw[0]).toBe(4);
    expect(Buffer.from(raw).toString("base64")).toBe(p.encryption_public_key); // standard base64 with padding
    expect(client.key).not.toBeNull();
  });

  testWith(target, ["jwt"], "a bad public key → KEY_EXCHANGE_FAILED (recoverable), then server_hello encryption:false", async () => {
    const client = await connectReady(pool, target, {
      encryption: true,
      publicKeyOverride: Buffer.from(new Uint8Array(65).fill(7)).toString("base64"),
    });
    const err = client.frames.find((f) => f.envelope?.t === "error");
    expect(err).toBeDefined();
    expect(payloadOf(err!.envelope)).toMatchObject({ code: "KEY_EXCHANGE_FAILED", recoverable: true });
    const hello = payloadOf(client.handshakeResult.hello);
    expect(hello.features.encryption).toBe(false);
    expect(client.key).toBeNull();
    // The connection goes on in plaintext.
    const topic = uniqueTopic("plain");
    const since = client.mark();
    await client.subscribe([topic]);
    await target.publish(topic, "plain_event", {});
    const f = await client.waitFor(onTopic(topic), 5000, since);
    expect(f.kind).toBe("text");
    expect(client.frames.slice(since).some((x) => x.kind === "E")).toBe(false);
  });

  testWith(target, ["jwt", "api"], "a repeated client_hello keeps the key", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    const firstKey = payloadOf(client.handshakeResult.hello).encryption_public_key;
    const other = await KeyExchange.create();
    const since = client.mark();
    client.send({ c: "WSE", t: "client_hello", v: 1, p: { client_version: "x", protocol_version: 2, features: { encryption: true }, encryption_public_key: other.publicKeyBase64 } });
    const hello2 = await client.waitForType("server_hello", 5000, since);
    const p2 = payloadOf(hello2);
    if (p2.encryption_public_key !== undefined) expect(p2.encryption_public_key).toBe(firstKey);
    const topic = uniqueTopic("rehello");
    await client.subscribe([topic]);
    await target.publish(topic, "still_mine", { ok: 1 });
    const f = await client.waitFor(onTopic(topic), 5000, since);
    expect(f.kind).toBe("E");
    expect(f.envelope!.p).toEqual({ ok: 1 }); // decrypted with the first key
  });
});

describe("encrypted traffic", () => {
  testWith(target, ["jwt", "api", "presence", "client-publish"], "every application frame is E:, heartbeats stay plaintext text, IVs are fresh", async () => {
    const client = await connectReady(pool, target, { encryption: true, claims: { sub: "secret-agent" } });
    const friend = await connectReady(pool, target, { claims: { sub: "friend" } });
    const topic = uniqueTopic("e2e");
    const since = client.mark();

    const reply = await client.subscribe([topic], { presence: { level: 7 } }); // sent as E:
    expect(payloadOf(reply).success_topics).toEqual([topic]);
    await friend.subscribe([topic], { presence: { level: 1 } });
    await client.waitFor(ofType("presence_join"), 5000, since);

    await target.publish(topic, "small", { n: 1 });
    await target.publish(topic, "large", { text: "lorem ipsum dolor sit amet ".repeat(200) });
    await client.waitForCount(onTopic(topic), 2, 5000, since);

    client.send({ c: "WSE", t: "ping", p: { timestamp: 1 } }); // plaintext ping still works
    await client.sendEncrypted({ c: "WSE", t: "ping", p: { timestamp: 2 } });
    await client.sendEncrypted({ c: "WSE", t: "presence_request", p: { topic } });
    await client.sendEncrypted({ t: "publish", p: { topic, type: "mine", payload: { x: 1 } }, cid: "e2e-cid" });
    await client.waitForCount(ofType("PONG"), 2, 5000, since);
    await client.waitForType("presence", 5000, since);
    await client.waitForType("publish_ack", 5000, since);
    await client.waitFor((f) => f.envelope?.t === "mine", 5000, since);
    await sleep(200);

    const frames = client.frames.slice(since);
    for (const f of frames) {
      expect(f.envelope).not.toBeNull();
      const t = f.envelope!.t!;
      if (HEARTBEATS.has(t)) {
        expect(f.kind).toBe("text");
        expect((f.raw as string).startsWith(`{"c":"WSE","t":"${t}"`)).toBe(true);
      } else if (!HANDSHAKE.has(t)) {
        expect({ t, kind: f.kind }).toEqual({ t, kind: "E" });
      }
    }
    const encrypted = frames.filter((f) => f.kind === "E");
    expect(encrypted.length).toBeGreaterThanOrEqual(7);
    const ivs = new Set(encrypted.map((f) => Buffer.from((f.raw as Uint8Array).subarray(2, 14)).toString("hex")));
    expect(ivs.size).toBe(encrypted.length);
    const large = frames.find((f) => f.envelope?.t === "large")!;
    expect((large.envelope!.p as { text: string }).text.length).toBe("lorem ipsum dolor sit amet ".length * 200);
    // The plaintext-only friend saw the same publications in the clear.
    expect(friend.frames.filter(onTopic(topic)).every((f) => f.kind !== "E")).toBe(true);
  });

  testWith(target, ["jwt", "api"], "E: wraps a JSON text envelope, even above the compression threshold (2.x clients decode it as UTF-8 JSON)", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    const topic = uniqueTopic("inner");
    await client.subscribe([topic]);
    await target.publish(topic, "large", { text: "abc ".repeat(2000) });
    await target.publish(topic, "small", { n: 1 });
    const frames = await client.waitForCount(onTopic(topic), 2);
    expect(frames.map((f) => [f.kind, f.inner])).toEqual([
      ["E", "text"],
      ["E", "text"],
    ]);
  });

  testWith(target, ["jwt"], "an E: frame whose plaintext is a C: body is handled like plaintext", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    const since = client.mark();
    await client.sendEncrypted(withPrefix("C:", deflateSync(utf8(JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: 31 } })))));
    const pong = await client.waitForType("PONG", 5000, since);
    expect(payloadOf(pong).client_timestamp).toBe(31);
  });
});
