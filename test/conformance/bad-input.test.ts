/**
 * PROTOCOL.md §7 bad input: every malformed frame gets a protocol error and the connection goes
 * on (a ping afterwards still gets its PONG), while a bystander subscribed to a topic keeps
 * receiving a live stream with no gap; only sustained garbage closes a connection (4400).
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { deflateSync } from "node:zlib";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { ClientPool, connectReady, payloadOf, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { encodeMsgpackFrame, utf8, withPrefix } from "./frames.ts";
import { isoSkewMs, onTopic, sleep, WireClient } from "./wire.ts";

const target = await startTarget({});
const pool = new ClientPool();

// A bystander with its own connection (not in the pool, so it lives across tests) and a
// background publisher that keeps a stream going for the whole file.
const streamTopic = uniqueTopic("bystander");
let bystander: WireClient | null = null;
let publishing = true;
let publishedTop = -1;
let publisher: Promise<void> = Promise.resolve();
let publisherError: string | null = null;

beforeAll(async () => {
  if (target.missing("jwt", "api").length) return;
  const token = await target.mintToken({ sub: "bystander" });
  const { url, headers } = target.withToken(token);
  bystander = await WireClient.connect(url, { headers });
  await bystander.handshake();
  await bystander.subscribe([streamTopic]);
  publisher = (async () => {
    for (let i = 0; publishing && i < 5000; i++) {
      publishedTop = (await target.publish(streamTopic, "tick", { i })).offset;
      await sleep(20);
    }
  })().catch((err) => {
    publisherError = String(err); // reported by the bystander test
  });
});

afterAll(async () => {
  publishing = false;
  await publisher;
  await bystander?.close();
  await target.stop();
});

type Code = "INVALID_MESSAGE" | "MESSAGE_TOO_LARGE";

/** Sends `data` on a fresh connection and expects one of `codes`, then a working ping. */
async function expectError(data: string | Uint8Array, codes: Code[], options: { msgpack?: boolean; encryption?: boolean } = {}): Promise<void> {
  const client = await connectReady(pool, target, { query: options.msgpack ? { format: "msgpack" } : undefined });
  const since = client.mark();
  client.sendRaw(data);
  const err = await client.waitForType("error", 5000, since);
  expect(err.c).toBe("WSE");
  expect(err.v).toBe(1);
  const p = payloadOf(err);
  expect(codes).toContain(p.code);
  expect(typeof p.message).toBe("string");
  expect(typeof p.recoverable).toBe("boolean");
  expect(isoSkewMs(p.timestamp)).toBeLessThan(5000);
  const after = client.mark();
  client.send({ c: "WSE", t: "ping", p: { timestamp: 99 } });
  const pong = await client.waitForType("PONG", 5000, after);
  expect(payloadOf(pong).client_timestamp).toBe(99);
  expect(client.closeInfo).toBeNull();
}

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe("each bad input → documented error, connection goes on", () => {
  const cases: [string, () => string | Uint8Array, Code[], { msgpack?: boolean }?][] = [
    ["malformed JSON", () => '{"c":"WSE","t":', ["INVALID_MESSAGE"]],
    ["JSON that is not an object", () => "[1,2,3]", ["INVALID_MESSAGE"]],
    ["a JSON string", () => '"hello"', ["INVALID_MESSAGE"]],
    ["an envelope without a type", () => JSON.stringify({ c: "WSE", p: {} }), ["INVALID_MESSAGE"]],
    ["an envelope whose p is not an object", () => JSON.stringify({ c: "WSE", t: "subscription_update", p: "subscribe" }), ["INVALID_MESSAGE"]],
    ["invalid UTF-8 in a binary JSON frame", () => new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), ["INVALID_MESSAGE"]],
    ["an unknown binary prefix", () => withPrefix("X:", utf8('{"t":"ping"}')), ["INVALID_MESSAGE"]],
    ["a C: frame that is not zlib", () => withPrefix("C:", utf8("definitely not zlib")), ["INVALID_MESSAGE"]],
    ["bad msgpack after M:", () => withPrefix("M:", new Uint8Array([0xc1, 0xc1, 0xc1])), ["INVALID_MESSAGE"]],
    ["truncated msgpack after M:", () => withPrefix("M:", msgpackEncode({ t: "ping", p: { timestamp: 1 } }).subarray(0, 6)), ["INVALID_MESSAGE"]],
    ["msgpack that is not a map", () => encodeMsgpackFrame([1, 2, 3]), ["INVALID_MESSAGE"]],
    ["JSON nested deeper than 64", () => JSON.stringify({ c: "U", t: "deep", p: { v: nested(200) } }), ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"]],
    ["msgpack nested deeper than 64", () => encodeMsgpackFrame({ t: "deep", p: { v: nested(200) } }), ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"]],
    ["a text frame over 1 MiB", () => JSON.stringify({ c: "U", t: "big", p: { s: "x".repeat(1024 * 1024 + 10) } }), ["MESSAGE_TOO_LARGE"]],
    ["a binary frame over 1 MiB", () => withPrefix("M:", new Uint8Array(1024 * 1024 + 10)), ["MESSAGE_TOO_LARGE"]],
    ["a zip bomb (C: inflating to 8 MiB)", () => withPrefix("C:", deflateSync(utf8(JSON.stringify({ t: "bomb", p: { s: "0".repeat(8 * 1024 * 1024) } })))), ["MESSAGE_TOO_LARGE", "INVALID_MESSAGE"]],
  ];
  for (const [name, data, codes, opts] of cases) {
    testWith(target, ["jwt"], `${name} → ${codes.join(" | ")}`, async () => {
      await expectError(data(), codes, opts);
    });
  }
});

describe("failed decryption", () => {
  testWith(target, ["jwt"], "bad E: frames are dropped; repeated ones → DECRYPTION_FAILED; the connection goes on", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    expect(client.key).not.toBeNull();
    const since = client.mark();
    for (let i = 0; i < 10; i++) client.sendRaw(withPrefix("E:", crypto.getRandomValues(new Uint8Array(48))));
    const err = await client.waitForType("error", 5000, since);
    expect(payloadOf(err).code).toBe("DECRYPTION_FAILED");
    const after = client.mark();
    await client.sendEncrypted({ c: "WSE", t: "ping", p: { timestamp: 3 } });
    await client.waitForType("PONG", 5000, after);
    expect(client.closeInfo).toBeNull();
  });

  testWith(target, ["jwt"], "E: frames on a connection without a key → an error, the connection goes on", async () => {
    const client = await connectReady(pool, target);
    const since = client.mark();
    for (let i = 0; i < 10; i++) client.sendRaw(withPrefix("E:", crypto.getRandomValues(new Uint8Array(64))));
    const err = await client.waitForType("error", 5000, since);
    expect(["INVALID_MESSAGE", "DECRYPTION_FAILED"]).toContain(payloadOf(err).code);
    const after = client.mark();
    client.send({ c: "WSE", t: "ping", p: { timestamp: 5 } });
    await client.waitForType("PONG", 5000, after);
  });

  testWith(target, ["jwt"], "an E: frame shorter than IV + tag is handled, not crashed on", async () => {
    const client = await connectReady(pool, target, { encryption: true });
    const since = client.mark();
    client.sendRaw(withPrefix("E:", new Uint8Array(5)));
    await sleep(200);
    await client.sendEncrypted({ c: "WSE", t: "ping", p: { timestamp: 4 } });
    await client.waitForType("PONG", 5000, since);
  });
});

describe("sustained garbage", () => {
  testWith(target, ["jwt"], "a flood of malformed frames → close 4400", async () => {
    const client = await connectReady(pool, target);
    for (let round = 0; round < 20 && !client.closeInfo; round++) {
      for (let i = 0; i < 50; i++) client.sendRaw("{not json");
      await sleep(50);
    }
    const close = await client.waitClose(5000);
    expect(close.code).toBe(4400);
  });
});

describe("the bystander", () => {
  testWith(target, ["jwt", "api"], "kept receiving every publication, in order, through all of the above", async () => {
    publishing = false;
    await publisher;
    const by = bystander!;
    expect(publisherError).toBeNull();
    expect(by.closeInfo).toBeNull();
    expect(publishedTop).toBeGreaterThan(10);
    await by.waitFor((f) => f.envelope?.tp === streamTopic && f.envelope.o === publishedTop, 10_000, 0, `offset ${publishedTop}`);
    const offsets = by.frames.filter(onTopic(streamTopic)).map((f) => f.envelope!.o);
    expect(offsets).toEqual(Array.from({ length: publishedTop + 1 }, (_, i) => i));
  }, 30_000);
});
