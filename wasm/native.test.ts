/**
 * The native AES-GCM key's IV sequence and framing: IVs never repeat under a key, differ between
 * keys, and every frame decrypts with the WASM backend (the browser's decoder) as well.
 */
import { describe, expect, test } from "bun:test";
import { advanceIv, encryptWithPrefix, nativeCodec } from "./native.ts";
import { wasmCodec } from "./wasm-codec.ts";

const raw = new Uint8Array(32).map((_, i) => i * 7 + 1);
const text = new TextEncoder();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("native session key", () => {
  test("20,000 frames under one key: all IVs distinct, each the previous one plus 1 in the low 64 bits", () => {
    const key = nativeCodec.importKey(raw);
    const ivs = new Set<string>();
    let previous: bigint | null = null;
    let prefix: string | null = null;
    for (let i = 0; i < 20_000; i++) {
      const iv = key.encrypt(text.encode(`m${i}`)).subarray(0, 12);
      ivs.add(hex(iv));
      prefix ??= hex(iv.subarray(0, 4));
      expect(hex(iv.subarray(0, 4))).toBe(prefix);
      const counter = Buffer.from(iv).readBigUInt64BE(4);
      if (previous !== null) expect(counter).toBe((previous + 1n) & 0xffff_ffff_ffff_ffffn);
      previous = counter;
    }
    expect(ivs.size).toBe(20_000);
  });

  test("two keys from the same bytes start their IV sequences at unrelated random points", () => {
    const a = nativeCodec.importKey(raw).encrypt(text.encode("x")).subarray(0, 12);
    const b = nativeCodec.importKey(raw).encrypt(text.encode("x")).subarray(0, 12);
    expect(hex(a)).not.toBe(hex(b));
  });

  test("frames decrypt with the WASM backend and with the native one; tampering is refused", () => {
    const native = nativeCodec.importKey(raw);
    const wasm = wasmCodec.importKey(raw);
    for (const size of [0, 1, 146, 1024, 70_000]) {
      const plain = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      const body = native.encrypt(plain);
      expect(body.length).toBe(12 + size + 16);
      expect(hex(wasm.decrypt(body))).toBe(hex(plain));
      expect(hex(native.decrypt(body))).toBe(hex(plain));
      body[body.length - 1]! ^= 1;
      expect(() => wasm.decrypt(body)).toThrow();
    }
  });

  test("encryptWithPrefix: prefix ‖ IV ‖ ciphertext ‖ tag, for native and WASM keys alike", () => {
    const prefix = text.encode("E:");
    for (const key of [nativeCodec.importKey(raw), wasmCodec.importKey(raw)]) {
      const frame = encryptWithPrefix(key, prefix, text.encode('{"t":"x"}'));
      expect(String.fromCharCode(frame[0]!, frame[1]!)).toBe("E:");
      expect(new TextDecoder().decode(wasmCodec.importKey(raw).decrypt(frame.subarray(2)))).toBe('{"t":"x"}');
    }
  });
});

describe("advanceIv", () => {
  test("the low 32 bits carry into the high 32 bits; the prefix never changes", () => {
    const cases: Array<[string, string]> = [
      ["aabbccdd 00000000 00000000", "aabbccdd 00000000 00000001"],
      ["aabbccdd 00000000 000000ff", "aabbccdd 00000000 00000100"],
      ["aabbccdd 00000000 ffffffff", "aabbccdd 00000001 00000000"],
      ["aabbccdd 000000ff ffffffff", "aabbccdd 00000100 00000000"],
      ["aabbccdd 12ffffff ffffffff", "aabbccdd 13000000 00000000"],
      ["aabbccdd ffffffff ffffffff", "aabbccdd 00000000 00000000"],
    ];
    for (const [before, after] of cases) {
      const iv = new Uint8Array(Buffer.from(before.replaceAll(" ", ""), "hex"));
      const low = Buffer.from(iv).readUInt32BE(8);
      const next = advanceIv(iv, low);
      expect(hex(iv)).toBe(after.replaceAll(" ", ""));
      expect(next).toBe(Buffer.from(iv).readUInt32BE(8));
    }
  });
});
