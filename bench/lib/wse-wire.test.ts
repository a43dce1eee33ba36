import { describe, expect, test } from "bun:test";
import { deflateSync } from "node:zlib";
import { createCipheriv, randomBytes } from "node:crypto";
import { bytesEqual, frameToJson, InflateMemo, jsonStart, parsePublication, scanPublication, scanStamp, stamp, WireError } from "./wse-wire.ts";

const enc = new TextEncoder();

describe("scanPublication", () => {
  test("reads the stamp and bench fields of a canonical envelope", () => {
    const json = enc.encode('{"tp":"prices","e":"0000beef","o":42,"c":"U","t":"bench","id":"x","ts":"2026-01-01T00:00:00.000Z","v":1,"p":{"pad":"a b","n":41,"ts0":1764201234567.125}}');
    expect(scanPublication(json)).toEqual({ topic: "prices", offset: 42, n: 41, ts0: 1764201234567.125 });
  });

  test("agrees with JSON.parse on other key orders and unstamped frames", () => {
    const frames = [
      '{"c":"U","t":"bench","p":{"n":3,"ts0":12.5,"pad":"x"},"tp":"a","e":"00000001","o":3}',
      '{"t":"bench","p":{"pad":"y","n":7,"ts0":99}}',
      '{"tp":"we\\"ird","e":"00000001","o":1,"t":"bench","p":{"pad":"","n":1,"ts0":1}}',
      '{"tp":"b","e":"00000001","o":5,"t":"bench","p":{"pad":"","n":5,"ts0":2}}',
      '{"tp":"b","e":"00000001","o":6,"t":"bench","p":{"pad":"\\"n\\":9","n":6,"ts0":3}}',
    ];
    for (const text of frames) expect(scanPublication(enc.encode(text))).toEqual(parsePublication(enc.encode(text)));
  });

  test("returns null for non-objects", () => {
    expect(scanPublication(enc.encode("[1,2]"))).toBeNull();
    expect(scanPublication(enc.encode("garbage"))).toBeNull();
  });
});

describe("scanStamp (in place)", () => {
  const frame = '{"tp":"prices","e":"0000beef","o":42,"c":"U","t":"bench","v":1,"p":{"pad":"a b","n":41,"ts0":1764201234567.125}}';

  test("reads a frame in the middle of a larger read without looking past its end", () => {
    const tail = '{"tp":"x","e":"1","o":99,"p":{"n":98,"ts0":5}}';
    const bytes = enc.encode(`junk${frame}${tail}`);
    expect(scanStamp(bytes, 4, 4 + frame.length)).toBe(true);
    expect(new TextDecoder().decode(bytes.subarray(stamp.topicStart, stamp.topicEnd))).toBe("prices");
    expect([stamp.offset, stamp.n, stamp.ts0]).toEqual([42, 41, 1764201234567.125]);
    expect(bytesEqual(bytes, stamp.topicStart, stamp.topicEnd, enc.encode("prices"))).toBe(true);
    expect(bytesEqual(bytes, stamp.topicStart, stamp.topicEnd, enc.encode("price"))).toBe(false);
    // a frame without the bench fields must not borrow them from the next frame in the buffer
    const bare = '{"tp":"prices","e":"0000beef","o":7,"c":"U","t":"other","p":{}}';
    const both = enc.encode(bare + tail);
    expect(scanStamp(both, 0, bare.length)).toBe(false);
  });

  test("refuses what it cannot read exactly: escapes, exponents, truncation, other key orders", () => {
    for (const text of [
      '{"tp":"a\\b","e":"1","o":1,"p":{"n":0,"ts0":1}}',
      '{"tp":"a","e":"1","o":1e3,"p":{"n":0,"ts0":1}}',
      '{"tp":"a","e":"1","o":',
      '{"c":"U","tp":"a","o":1,"p":{"n":0,"ts0":1}}',
    ]) {
      const bytes = enc.encode(text);
      expect(scanStamp(bytes, 0, bytes.length)).toBe(false);
    }
  });

  test("numbers: negatives, fractions and long fractions", () => {
    const bytes = enc.encode('{"tp":"a","e":"1","o":-3,"p":{"pad":"","n":12,"ts0":0.1234567890123}}');
    expect(scanStamp(bytes, 0, bytes.length)).toBe(true);
    expect(stamp.offset).toBe(-3);
    expect(stamp.ts0).toBeCloseTo(0.1234567890123, 15);
  });

  test("whenever the scanner accepts a frame it agrees with JSON.parse (seeded random frames)", () => {
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const pick = <T,>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const numbers = () => pick([0, 1, 7, 42, 65535, 2 ** 31, 2 ** 40 + 3, -1, -17, 1.5, 0.25, 1764201234567.125, 1764201234567.4567, 3.0000001]);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const topic = pick(["a", "prices.eu", "t\u00e9", "é", "日本", "a\"b", "x\\y", "sp ace", "o", "n", "ts0"]);
      const exact = `{"tp":${JSON.stringify(topic)},"e":"0000beef","o":${numbers()},`;
      const head = pick([exact, exact, exact, `{"tp":${JSON.stringify(topic)},"o":${numbers()},`, `{"c":"U","tp":${JSON.stringify(topic)},"o":${numbers()},`]);
      const middle = pick(['"c":"U","t":"bench",', '"t":"bench","id":"\\"o\\":1",', '"v":1,', ""]);
      const pad = pick(["", "a b", "a b", "x,\\u0022p", 'say \\"n\\":5', '\\"ts0\\":9', "ends\\\\"]);
      const payload = pick([
        `{"pad":"${pad}","n":${numbers()},"ts0":${numbers()}}`,
        `{"pad":"${pad}","n":${numbers()},"ts0":${numbers()}}`,
        `{"pad":"${pad}","n":${numbers()},"ts0":${numbers()}}`,
        `{"n":${numbers()},"pad":"${pad}","ts0":${numbers()}}`,
        `{"pad":"${pad}","n":${numbers()}}`,
        `{"pad":"${pad}","ts0":${numbers()},"n":${numbers()}}`,
      ]);
      const tail = pick(["}", "}", "}", ',"v":1}', ',"q":{"ts0":1}}']);
      const text = `${head}${middle}"p":${payload}${tail}`;
      const bytes = enc.encode(`garbage${text}more`);
      const start = 7;
      const end = start + enc.encode(text).length;
      const parsed = JSON.parse(text);
      if (!scanStamp(bytes, start, end)) continue;
      accepted++;
      expect(new TextDecoder().decode(bytes.subarray(stamp.topicStart, stamp.topicEnd))).toBe(parsed.tp);
      expect(stamp.offset).toBe(parsed.o);
      expect(stamp.n).toBe(parsed.p.n);
      if (typeof parsed.p.ts0 === "number") expect(Math.abs(stamp.ts0 - parsed.p.ts0)).toBeLessThanOrEqual(Math.abs(parsed.p.ts0) * 1e-15);
    }
    expect(accepted).toBeGreaterThan(150);
  });

  test("legacy prefixes are skipped in place", () => {
    const bytes = enc.encode(`U${frame}`);
    expect(jsonStart(bytes, 0, bytes.length)).toBe(1);
    expect(jsonStart(enc.encode(`WSE${frame}`), 0, frame.length + 3)).toBe(3);
    expect(jsonStart(enc.encode(frame), 0, frame.length)).toBe(0);
  });
});

describe("frameToJson", () => {
  const text = '{"tp":"a","e":"00000001","o":0,"t":"bench","p":{"pad":"","n":0,"ts0":1}}';

  test("text, C: zlib, bare JSON binary and legacy prefixes", () => {
    expect(new TextDecoder().decode(frameToJson(1, enc.encode(text)))).toBe(text);
    const c = new Uint8Array([0x43, 0x3a, ...deflateSync(enc.encode(text))]);
    expect(new TextDecoder().decode(frameToJson(2, c))).toBe(text);
    expect(new TextDecoder().decode(frameToJson(2, enc.encode(text)))).toBe(text);
    expect(new TextDecoder().decode(frameToJson(1, enc.encode(`U${text}`)))).toBe(text);
  });

  test("the inflate memo returns exactly what inflating returns, and only for identical bytes", () => {
    const memo = new InflateMemo();
    const expected = [0, 1, 2].map((o) => text.replace('"o":0', `"o":${o}`));
    const frames = expected.map((json) => new Uint8Array([0x43, 0x3a, ...deflateSync(enc.encode(json))]));
    for (let round = 0; round < 3; round++) {
      for (const [o, frame] of frames.entries()) {
        // a fresh copy each time, inside a larger buffer, as a socket read hands it over
        const buffer = new Uint8Array(frame.length + 6);
        buffer.set(frame, 3);
        expect(new TextDecoder().decode(frameToJson(2, buffer.subarray(3, 3 + frame.length), undefined, memo))).toBe(expected[o]!);
      }
    }
    expect([memo.inflated, memo.reused]).toEqual([3, 6]);
    // same length, one byte different: not a hit, and the broken stream throws
    const tampered = frames[0]!.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(() => frameToJson(2, tampered, undefined, memo)).toThrow();
    const middle = frames[0]!.slice();
    middle[10]! ^= 0x40; // same length and trailer as a remembered frame: compared in full, not reused
    expect(() => frameToJson(2, middle, undefined, memo)).toThrow();
    expect(memo.reused).toBe(6);
    // a memo smaller than the working set evicts and inflates again, still correctly
    const small = new InflateMemo(1);
    for (let round = 0; round < 2; round++) {
      for (const [o, frame] of frames.entries()) expect(new TextDecoder().decode(frameToJson(2, frame, undefined, small))).toBe(expected[o]!);
    }
    expect(small.inflated).toBe(6);
    // the working set of a fan-out: many connections each get many publications in one read
    const wide = new InflateMemo();
    const many = Array.from({ length: 300 }, (_, o) => new Uint8Array([0x43, 0x3a, ...deflateSync(enc.encode(text.replace('"o":0', `"o":${o}`)))]));
    for (let connection = 0; connection < 5; connection++) {
      for (const [o, frame] of many.entries()) expect(new TextDecoder().decode(frameToJson(2, frame.slice(), undefined, wide))).toBe(text.replace('"o":0', `"o":${o}`));
    }
    expect([wide.inflated, wide.reused]).toEqual([300, 1200]);
  });

  test("E: frames decrypt with the session key and fail without it", () => {
    const raw = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", raw, iv);
    const body = Buffer.concat([Buffer.from("E:"), iv, cipher.update(enc.encode(text)), cipher.final(), cipher.getAuthTag()]);
    expect(new TextDecoder().decode(frameToJson(2, body, { raw }))).toBe(text);
    expect(() => frameToJson(2, body)).toThrow(WireError);
  });
});
