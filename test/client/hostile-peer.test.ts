/**
 * The client facing a misbehaving peer: a minimal WebSocket endpoint (Bun.serve) that completes
 * the WSE handshake and then sends garbage — bad JSON, unknown prefixes, corrupt zlib, a zip
 * bomb, an `E:` frame without a key, over-deep nesting, bad stamps. (The real server never sends
 * these, so a hand-written peer is the only way to exercise them.) The client must count and
 * report each, stay connected, and deliver the valid event that follows.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { connect, type WSEError } from "../../client/mod.ts";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { encodeFrame, wasmCodec } from "../../wasm/mod.ts";

let peer: Server<undefined>;
const GARBAGE: Array<string | Uint8Array> = [];
let legacyMode = false;
const utf8 = new TextEncoder();
/** Every framing a WSE 2.x peer may use (PROTOCOL.md §3), each carrying event `legacy` n. */
const LEGACY: Array<string | Uint8Array> = [
  'WSE{"t":"legacy","p":{"n":1}}',
  'S{"t":"legacy","p":{"n":2}}',
  'U{"t":"legacy","p":{"n":3}}',
  utf8.encode('{"t":"legacy","p":{"n":4}}'),
  wasmCodec.zlibCompress(utf8.encode('{"t":"legacy","p":{"n":5}}')),
  encodeFrame('{"t":"legacy","p":{"n":6}}', wasmCodec, { compression: "zlib" }) as Uint8Array,
  encodeFrame('{"t":"legacy","p":{"n":7}}', wasmCodec, { compression: "zstd" }) as Uint8Array,
  encodeFrame(msgpackEncode({ t: "legacy", p: { n: 8 } }), wasmCodec) as Uint8Array,
  msgpackEncode({ t: "legacy", p: { n: 9 } }),
  encodeFrame('{"t":"batch","p":{"messages":[{"t":"legacy","p":{"n":10}},{"t":"legacy","p":{"n":11}}],"count":2}}', wasmCodec, {}) as string,
];

beforeAll(() => {
  const zlibBomb = encodeFrame(`{"t":"x","p":{"s":"${"a".repeat(3 * 1024 * 1024)}"}}`, wasmCodec, { compression: "zlib" });
  const deep = `{"t":"deep","p":${"{\"a\":".repeat(200)}1${"}".repeat(200)}}`;
  GARBAGE.push(
    "{not json",
    "[]",
    '{"p":{}}',
    '{"t":"x","p":"not an object"}',
    deep,
    new Uint8Array([0x51, 0x3a, 1, 2, 3]),
    new Uint8Array([0x43, 0x3a, 0x78, 0x9c, 0xff, 0xff, 0x00]),
    zlibBomb as Uint8Array,
    new Uint8Array([0x45, 0x3a, ...new Uint8Array(40)]),
    new Uint8Array([]),
    '{"t":"stamped","tp":"t","e":"0000beef","o":-5,"p":{}}',
    '{"t":"stamped","tp":"t","e":"0000beef","o":1.5,"p":{}}',
  );
  peer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("ws only", { status: 400 });
    },
    websocket: {
      open(ws) {
        ws.send(JSON.stringify({ c: "WSE", t: "server_ready", p: { details: { connection_id: "c1", features: { recovery: false } } } }));
      },
      message(ws, raw) {
        const msg = JSON.parse(String(raw));
        if (msg.t === "client_hello") {
          ws.send(JSON.stringify({ c: "WSE", t: "server_hello", p: { features: { encryption: false } } }));
          if (legacyMode) {
            for (const frame of LEGACY) ws.send(frame);
          } else {
            for (const g of GARBAGE) ws.send(g);
          }
          ws.send(JSON.stringify({ c: "U", t: "valid", p: { ok: true } }));
        }
        if (msg.t === "ping") ws.send(JSON.stringify({ c: "WSE", t: "PONG", p: { client_timestamp: msg.p.timestamp } }));
      },
    },
  });
});

afterAll(() => {
  peer.stop(true);
});

test("garbage frames are counted and reported; the connection survives and the next event arrives", async () => {
  const errors: WSEError[] = [];
  const client = await connect(`ws://127.0.0.1:${peer.port}/wse`, { offlineQueue: false });
  client.onError((e) => errors.push(e));
  const event = await client.recv({ timeout: 5000 });
  expect(event.type).not.toBe("deep");
  const rest = [event];
  while (rest.at(-1)!.type !== "valid") rest.push(await client.recv({ timeout: 5000 }));
  expect(rest.at(-1)!.payload).toEqual({ ok: true });
  // Malformed stamps are delivered as unstamped events (never crash the sequencer).
  expect(rest.filter((e) => e.type === "stamped").length).toBe(2);
  expect(client.state).toBe("ready");
  const stats = client.getStats();
  expect(stats.protocolErrors).toBe(GARBAGE.length - 2);
  expect(new Set(errors.map((e) => e.name))).toEqual(new Set(["WSEProtocolError"]));
  expect(errors.some((e) => e.code === "TOO_LARGE" || e.code === "MESSAGE_TOO_LARGE")).toBe(true);
  await client.close();
}, 20_000);

test("a server that never completes the handshake gives a WSETimeoutError", async () => {
  const silent = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("", { status: 400 })),
    websocket: { message() {} },
  });
  try {
    const started = Date.now();
    const error = await connect(`ws://127.0.0.1:${silent.port}/wse`, { handshakeTimeout: 300 }).catch((e) => e);
    expect(error?.name).toBe("WSETimeoutError");
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    silent.stop(true);
  }
}, 20_000);

test("encryption required but refused by the server: WSEEncryptionError, final", async () => {
  const error = await connect(`ws://127.0.0.1:${peer.port}/wse`, { encryption: true }).catch((e) => e);
  expect(error?.name).toBe("WSEEncryptionError");
}, 20_000);

test("every framing of PROTOCOL.md §3 is decoded: legacy text prefixes, bare zlib, JSON in binary, C:, Z:, M:, bare msgpack, batch", async () => {
  legacyMode = true;
  try {
    const client = await connect(`ws://127.0.0.1:${peer.port}/wse`, { offlineQueue: false });
    const got: number[] = [];
    while (true) {
      const e = await client.recv({ timeout: 5000 });
      if (e.type === "valid") break;
      expect(e.type).toBe("legacy");
      got.push(e.payload.n as number);
    }
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(client.getStats().protocolErrors).toBe(0);
    await client.close();
  } finally {
    legacyMode = false;
  }
}, 20_000);
