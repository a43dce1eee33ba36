import { describe, expect, test } from "bun:test";
import { decodeFrame, encodeFrame, parseEnvelope, wasmCodec } from "../wasm/mod.ts";
import { nativeCodec } from "../wasm/native.ts";
import { WSEEncryptionError, WSEProtocolError } from "./errors.ts";
import { COMPRESSION_THRESHOLD, countUtf8Bytes, frameSize, fromBase64, toBase64, utf8Length, Wire } from "./wire.ts";

describe("wire", () => {
  test("utf8Length and countUtf8Bytes count what TextEncoder would write, lone surrogates as U+FFFD", () => {
    const encoder = new TextEncoder();
    const samples = [
      "",
      '{"t":"x","p":{}}',
      "é ü ß",
      "€ 中文 ✓",
      "emoji 😀 and 👍🏽",
      "lone high \ud83d end",
      "lone low \ude00 end",
      "high at end \ud83d",
      "two highs \ud83d\ud83d\ude00",
      "\u007f\u0080\u07ff\u0800\uffff",
    ];
    for (const text of samples) {
      expect(utf8Length(text)).toBe(encoder.encode(text).length);
      expect(countUtf8Bytes(text)).toBe(encoder.encode(text).length);
    }
    let random = 1;
    for (let round = 0; round < 200; round++) {
      let text = "";
      for (let i = 0; i < 40; i++) {
        random = (random * 1103515245 + 12345) % 2147483648;
        text += String.fromCharCode(random % 0x10000);
      }
      expect(utf8Length(text)).toBe(encoder.encode(text).length);
      expect(countUtf8Bytes(text)).toBe(encoder.encode(text).length);
    }
    expect(frameSize("😀")).toBe(4);
    expect(frameSize(new Uint8Array(7))).toBe(7);
    expect(frameSize(new ArrayBuffer(9))).toBe(9);
  });

  test("base64 round-trips and rejects garbage", () => {
    const bytes = new Uint8Array(70_000).map((_, i) => i * 7);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
    expect(toBase64(new Uint8Array([0x04, 0xff]))).toBe("BP8=");
    expect(() => fromBase64("!!!not base64")).toThrow(WSEEncryptionError);
  });

  test("key exchange with a server on the other backend; E: frames both ways", () => {
    const wire = new Wire(wasmCodec);
    const clientPublic = fromBase64(wire.startKeyExchange());
    expect(clientPublic.length).toBe(65);
    const serverPair = nativeCodec.generateKeyPair();
    const serverKey = serverPair.deriveKey(clientPublic);
    wire.completeKeyExchange(toBase64(serverPair.publicKey));
    expect(wire.encrypted).toBe(true);
    // client → server
    const out = wire.encode({ t: "chat", p: { text: "hi" } });
    expect(out).toBeInstanceOf(Uint8Array);
    expect(String.fromCharCode(...(out as Uint8Array).subarray(0, 2))).toBe("E:");
    const atServer = parseEnvelope(decodeFrame(out, nativeCodec, { key: serverKey }));
    expect(atServer).toMatchObject({ t: "chat", p: { text: "hi" }, c: "U" });
    // server → client
    const back = encodeFrame('{"t":"reply","p":{"n":1}}', nativeCodec, { key: serverKey });
    expect(wire.decode(back)).toMatchObject({ t: "reply", p: { n: 1 } });
  });

  test("large JSON goes out as C: when not encrypted; plaintext option skips the key", () => {
    const wire = new Wire(wasmCodec);
    const big = wire.encode({ t: "big", p: { s: "a".repeat(COMPRESSION_THRESHOLD * 2) } });
    expect(String.fromCharCode(...(big as Uint8Array).subarray(0, 2))).toBe("C:");
    expect(wire.decode(big as Uint8Array).p.s).toHaveLength(COMPRESSION_THRESHOLD * 2);
    expect(typeof wire.encode({ t: "small", p: {} })).toBe("string");
  });

  test("undecodable frames are protocol errors; a bad tag is an encryption error and counted", () => {
    const wire = new Wire(wasmCodec);
    expect(() => wire.decode("{not json")).toThrow(WSEProtocolError);
    expect(() => wire.decode(new Uint8Array([0x51, 0x3a, 1, 2]))).toThrow(WSEProtocolError);
    const serverPair = nativeCodec.generateKeyPair();
    fromBase64(wire.startKeyExchange());
    wire.completeKeyExchange(toBase64(serverPair.publicKey));
    const forged = new Uint8Array(40);
    forged.set([0x45, 0x3a]);
    expect(() => wire.decode(forged)).toThrow(WSEEncryptionError);
    expect(wire.decryptFailures).toBe(1);
    expect(() => wire.completeKeyExchange(toBase64(new Uint8Array(65)))).toThrow(WSEEncryptionError);
  });
});
