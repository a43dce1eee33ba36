import { describe, expect, test } from "bun:test";
import { decode as msgpackDecode } from "@msgpack/msgpack";
import { decodeFrame } from "../../wasm/frame.ts";
import { nativeCodec } from "../../wasm/native.ts";
import type { Publication } from "../broker/types.ts";
import { messageEnvelope, Outbound, OutboundCache, publicationEnvelope, publicationJson, Variant } from "./outbound.ts";

const ctx = { codec: nativeCodec, compressionThreshold: 100 };
const pub = { topic: "prices", epoch: "0000beef", offset: 42, data: { type: "price_update", payload: { v: 1 }, id: "m1", ts: "2026-01-01T00:00:00.000Z" } };

describe("Outbound", () => {
  test("publication JSON starts with the stamp, then c and t", () => {
    const out = new Outbound({ ...ctx, compressionThreshold: 1024 }, publicationEnvelope(pub));
    expect(out.json().startsWith('{"tp":"prices","e":"0000beef","o":42,"c":"U","t":"price_update"')).toBe(true);
    expect(out.frame(Variant.JSON)).toBe(out.json());
  });

  test("a pre-serialized payload gives the same JSON", () => {
    const env = publicationEnvelope({ ...pub, data: { ...pub.data, priority: 8, correlationId: "c1" } });
    expect(new Outbound(ctx, env, JSON.stringify({ v: 1 })).json()).toBe(JSON.stringify(env));
  });

  test("above the threshold: C: for JSON clients, Z: for zstd clients; M: for msgpack", () => {
    const big = { ...pub, data: { ...pub.data, payload: { s: "x".repeat(500) } } };
    const out = new Outbound(ctx, publicationEnvelope(big));
    const c = out.frame(Variant.JSON) as Uint8Array;
    const z = out.frame(Variant.ZSTD) as Uint8Array;
    const m = out.frame(Variant.MSGPACK) as Uint8Array;
    expect(String.fromCharCode(c[0]!, c[1]!)).toBe("C:");
    expect(String.fromCharCode(z[0]!, z[1]!)).toBe("Z:");
    expect(String.fromCharCode(m[0]!, m[1]!)).toBe("M:");
    expect(decodeFrame(c, nativeCodec).text).toBe(out.json());
    expect(decodeFrame(z, nativeCodec).text).toBe(out.json());
    expect(msgpackDecode(m.subarray(2))).toEqual(JSON.parse(out.json()));
    expect(out.frame(Variant.JSON)).toBe(c); // cached: encoded once
  });

  test("E: carries the uncompressed JSON with a fresh IV each time", () => {
    const big = { ...pub, data: { ...pub.data, payload: { s: "x".repeat(500) } } };
    const out = new Outbound(ctx, publicationEnvelope(big));
    const key = nativeCodec.importKey(new Uint8Array(32).fill(7));
    const a = out.encrypted(Variant.JSON, key);
    const b = out.encrypted(Variant.JSON, key);
    expect(String.fromCharCode(a[0]!, a[1]!)).toBe("E:");
    expect(Buffer.from(a.subarray(2, 14)).equals(Buffer.from(b.subarray(2, 14)))).toBe(false);
    const decoded = decodeFrame(a, nativeCodec, { key });
    expect(decoded.encrypted).toBe(true);
    expect(decoded.compression).toBe("none");
    expect(decoded.text).toBe(out.json());
  });

  test("E: carries JSON text for msgpack connections too (2.x cannot read E:M:)", () => {
    const out = new Outbound(ctx, publicationEnvelope(pub));
    const key = nativeCodec.importKey(new Uint8Array(32).fill(3));
    const decoded = decodeFrame(out.encrypted(Variant.MSGPACK, key), nativeCodec, { key });
    expect(decoded.format).toBe("json");
    expect(decoded.text).toBe(out.json());
  });

  test("system envelopes get c, t, ts, v", () => {
    const env = messageEnvelope("error", { code: "X" }, { correlationId: "c9" });
    expect(Object.keys(env)).toEqual(["c", "t", "ts", "v", "cid", "p"]);
    expect(env.c).toBe("WSE");
    expect(messageEnvelope("orders_snapshot", {}).c).toBe("S");
    expect(messageEnvelope("chat", {}).c).toBe("U");
  });
});

describe("OutboundCache", () => {
  test("one Outbound per (topic, epoch, offset), bounded by count and bytes", () => {
    const cache = new OutboundCache(ctx, 3, 10_000);
    const a = cache.get(pub);
    expect(cache.get({ ...pub, data: { ...pub.data } })).toBe(a); // a fresh copy of the same publication
    for (let o = 43; o < 46; o++) cache.get({ ...pub, offset: o });
    expect(cache.size).toBeLessThanOrEqual(3);
    expect(cache.get(pub)).not.toBe(a); // dropped when full, re-encoded
    const big = { ...pub, offset: 99, data: { ...pub.data, payload: { s: "z".repeat(4000) } } };
    cache.get(big);
    expect(cache.bytes).toBeLessThanOrEqual(10_000);
  });
});

describe("publicationJson", () => {
  const base: Publication = { topic: "prices", epoch: "0000beef", offset: 42, data: { type: "tick", payload: { v: 1 }, id: "a", ts: "2026-01-01T00:00:00.000Z" } };
  const variants: Publication[] = [
    base,
    { ...base, offset: 43 },
    { ...base, epoch: "00c0ffee", offset: 0 },
    { ...base, topic: 'quo"te\\s \u0001 ünï \ud83d\ude00', data: { ...base.data, type: 'ty"pe\n', id: "i\u2028d" } },
    { ...base, data: { ...base.data, type: "tick", category: "S" } },
    { ...base, data: { ...base.data, type: "tick" } },
    { ...base, data: { ...base.data, type: "lone \ud800 surrogate", priority: 10, correlationId: 'c"id' } },
    { ...base, data: { ...base.data, type: "server_ready", priority: Number.NaN } },
    { ...base, data: { ...base.data, type: "x_snapshot", ts: "other \u007f ts" } },
    { ...base, offset: 2 ** 60 }, // not a safe integer: the generic path
  ];

  test("the same text as JSON.stringify of the envelope, caches warm or cold, for any field content", () => {
    for (let round = 0; round < 2; round++) {
      for (const p of variants) {
        const payload = { nested: { s: 'x"y' }, list: [1, "two"], u: "\u00e9" };
        const expected = JSON.stringify({ ...publicationEnvelope(p), p: payload });
        expect(publicationJson({ ...p, data: { ...p.data, payload } }, JSON.stringify(payload))).toBe(expected);
        const out = Outbound.publication(ctx, { ...p, data: { ...p.data, payload } }, JSON.stringify(payload));
        expect(out.json()).toBe(expected);
        expect(out.envelope).toEqual(publicationEnvelope({ ...p, data: { ...p.data, payload } }));
      }
    }
  });
});
