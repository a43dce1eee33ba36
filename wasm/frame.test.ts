import { describe, expect, test } from "bun:test";
import { deflateSync } from "node:zlib";
import { encode } from "@msgpack/msgpack";
import { CodecError } from "./api.ts";
import { decodeFrame, encodeFrame } from "./frame.ts";
import { EnvelopeError, envelopeToJson, parseEnvelope } from "./envelope.ts";
import { nativeCodec as codec } from "./native.ts";

const json = '{"c":"U","t":"price","v":1,"p":{"x":1}}';
const bytes = (s: string) => new TextEncoder().encode(s);

describe("frame codec", () => {
  test("plain JSON stays a text frame", () => {
    expect(encodeFrame(json, codec)).toBe(json);
    expect(decodeFrame(json, codec).text).toBe(json);
  });

  test("C: and Z: round-trip and report their compression", () => {
    for (const compression of ["zlib", "zstd"] as const) {
      const wire = encodeFrame(json, codec, { compression }) as Uint8Array;
      expect(String.fromCharCode(wire[0]!, wire[1]!)).toBe(compression === "zlib" ? "C:" : "Z:");
      const out = decodeFrame(wire, codec);
      expect(out).toMatchObject({ compression, format: "json", text: json, encrypted: false });
    }
  });

  test("E: wraps text and compressed bodies and needs the key", () => {
    const a = codec.generateKeyPair();
    const b = codec.generateKeyPair();
    const key = a.deriveKey(b.publicKey);
    const peer = b.deriveKey(a.publicKey);
    for (const compression of ["none", "zlib"] as const) {
      const wire = encodeFrame(json, codec, { compression, key }) as Uint8Array;
      expect(String.fromCharCode(wire[0]!, wire[1]!)).toBe("E:");
      expect(decodeFrame(wire, codec, { key: peer })).toMatchObject({ encrypted: true, compression, text: json });
      expect(() => decodeFrame(wire, codec)).toThrow(CodecError);
    }
  });

  test("M: and unprefixed msgpack decode to bytes", () => {
    const body = encode({ t: "x", p: {} });
    const wire = encodeFrame(body, codec) as Uint8Array;
    expect(decodeFrame(wire, codec).format).toBe("msgpack");
    expect(decodeFrame(body, codec).bytes).toEqual(body);
  });

  test("legacy prefixes, bare zlib and JSON in a binary frame", () => {
    expect(decodeFrame("WSE{\"t\":\"a\"}", codec).text).toBe('{"t":"a"}');
    expect(decodeFrame("U{\"t\":\"a\"}", codec).text).toBe('{"t":"a"}');
    expect(decodeFrame(new Uint8Array(deflateSync(bytes(json))), codec).text).toBe(json);
    expect(decodeFrame(bytes(json), codec).text).toBe(json);
  });

  test("zip bomb and garbage give typed errors", () => {
    const bomb = encodeFrame("{" + " ".repeat(5_000_000) + "}", codec, { compression: "zlib" }) as Uint8Array;
    expect(() => decodeFrame(bomb, codec)).toThrow(expect.objectContaining({ code: "TOO_LARGE" }));
    expect(() => decodeFrame(bytes("Q:zzz"), codec)).toThrow(expect.objectContaining({ code: "BAD_FRAME" }));
    expect(() => decodeFrame(bytes("C:notzlib"), codec)).toThrow(expect.objectContaining({ code: "DECOMPRESS_FAILED" }));
    expect(() => decodeFrame(new Uint8Array(0), codec)).toThrow(CodecError);
    expect(() => decodeFrame(new Uint8Array([0x7b, 0xff, 0xfe]), codec)).toThrow(expect.objectContaining({ code: "BAD_FRAME" }));
  });
});

describe("envelope", () => {
  const parse = (text: string) => parseEnvelope({ encrypted: false, compression: "none", format: "json", text });

  test("aliases and canonical order", () => {
    const env = parse('{"type":"ping","payload":{"timestamp":1}}');
    expect(env).toEqual({ t: "ping", p: { timestamp: 1 } });
    expect(envelopeToJson({ t: "PONG", p: {} }).startsWith('{"c":"WSE","t":"PONG"')).toBe(true);
    expect(envelopeToJson({ tp: "a", e: "0000beef", o: 3, t: "x", p: {} }).startsWith('{"tp":"a","e":"0000beef","o":3,"c":"U"')).toBe(true);
  });

  test("rejects non-objects, missing type, deep nesting", () => {
    for (const bad of ["[1]", "12", "{}", '{"t":""}', '{"t":"x","p":[]}', "{bad"]) {
      expect(() => parse(bad)).toThrow(EnvelopeError);
    }
    const deep = '{"t":"x","p":' + '{"a":'.repeat(100) + "1" + "}".repeat(100) + "}";
    expect(() => parse(deep)).toThrow(expect.objectContaining({ code: "MESSAGE_TOO_LARGE" }));
  });
});
