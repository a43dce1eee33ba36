/**
 * Adversarial input to the codec facade: truncated and corrupt compressed data, zip bombs,
 * wrong keys, bad tags, short frames and a seeded fuzz loop of random and mutated inputs.
 * Every failure must be a typed `CodecError`, and the wasm instance must keep working.
 */
import { describe, expect, test } from "bun:test";
import { CodecError, decodeFrame, encodeFrame, keyPairFromSecret, wasmCodec } from "../../wasm/mod.ts";
import { sample } from "./facade-cases.ts";

const MiB = 1 << 20;

/** mulberry32: a small seeded PRNG so every run fuzzes the same inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (error) {
    if (error instanceof CodecError) return error.code;
    return `UNTYPED ${String(error)}`;
  }
}

function healthy(): boolean {
  const data = sample(3000);
  const key = wasmCodec.importKey(new Uint8Array(32).fill(3));
  return (
    wasmCodec.zlibDecompress(wasmCodec.zlibCompress(data), MiB).length === 3000 &&
    wasmCodec.zstdDecompress(wasmCodec.zstdCompress(data), MiB).length === 3000 &&
    key.decrypt(key.encrypt(data)).length === 3000
  );
}

const key = wasmCodec.importKey(new Uint8Array(32).fill(9));
const text = JSON.stringify({ c: "U", t: "fuzz", p: { s: "x".repeat(300) } });
const valid = {
  zlib: wasmCodec.zlibCompress(sample(2000)),
  zstd: wasmCodec.zstdCompress(sample(2000)),
  sealed: key.encrypt(sample(500)),
  frames: (["none", "zlib", "zstd"] as const).map((compression) => encodeFrame(text, wasmCodec, { compression, key }) as Uint8Array),
};

describe("targeted", () => {
  test("every truncation of valid input is a typed error", () => {
    for (let n = 0; n < valid.zlib.length; n++) expect(outcome(() => wasmCodec.zlibDecompress(valid.zlib.subarray(0, n), MiB))).toBe("DECOMPRESS_FAILED");
    for (let n = 0; n < valid.zstd.length; n++) expect(outcome(() => wasmCodec.zstdDecompress(valid.zstd.subarray(0, n), MiB))).toBe("DECOMPRESS_FAILED");
    for (let n = 0; n < valid.sealed.length; n++) expect(outcome(() => key.decrypt(valid.sealed.subarray(0, n)))).toBe("DECRYPT_FAILED");
    for (const frame of valid.frames) {
      for (let n = 0; n < frame.length; n++) {
        const result = outcome(() => decodeFrame(frame.subarray(0, n), wasmCodec, { key }));
        expect(["DECRYPT_FAILED", "BAD_FRAME"]).toContain(result);
      }
    }
    expect(healthy()).toBe(true);
  });

  test("every single-bit flip of a sealed body fails authentication", () => {
    for (let i = 0; i < valid.sealed.length * 8; i += 3) {
      const bad = valid.sealed.slice();
      bad[i >> 3]! ^= 1 << (i & 7);
      expect(outcome(() => key.decrypt(bad))).toBe("DECRYPT_FAILED");
    }
    expect(healthy()).toBe(true);
  });

  test("zip bombs in every container are TOO_LARGE and cost no more than the cap", () => {
    const zeros = new Uint8Array(64 * MiB);
    const zlibBomb = wasmCodec.zlibCompress(zeros, 9);
    const zstdBomb = wasmCodec.zstdCompress(zeros, 19);
    expect(zlibBomb.length).toBeLessThan(100_000);
    expect(zstdBomb.length).toBeLessThan(10_000);
    for (let i = 0; i < 20; i++) {
      expect(outcome(() => wasmCodec.zlibDecompress(zlibBomb, MiB))).toBe("TOO_LARGE");
      expect(outcome(() => wasmCodec.zstdDecompress(zstdBomb, MiB))).toBe("TOO_LARGE");
    }
    const framed = new Uint8Array(2 + zstdBomb.length);
    framed.set([0x5a, 0x3a], 0);
    framed.set(zstdBomb, 2);
    expect(outcome(() => decodeFrame(framed, wasmCodec, { maxSize: MiB }))).toBe("TOO_LARGE");
    const sealed = new Uint8Array(2 + 28 + framed.length);
    sealed.set([0x45, 0x3a], 0);
    sealed.set(key.encrypt(framed), 2);
    expect(outcome(() => decodeFrame(sealed, wasmCodec, { key, maxSize: MiB }))).toBe("TOO_LARGE");
    expect(healthy()).toBe(true);
  });

  test("a forged zstd window size is refused before allocating it", () => {
    const forged = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf0, 0x01, 0x00, 0x00]);
    expect(outcome(() => wasmCodec.zstdDecompress(forged, MiB))).toBe("DECOMPRESS_FAILED");
    expect(healthy()).toBe(true);
  });

  test("wrong keys, bad points and bad secrets are typed", () => {
    const other = wasmCodec.importKey(new Uint8Array(32).fill(10));
    expect(outcome(() => other.decrypt(valid.sealed))).toBe("DECRYPT_FAILED");
    const pair = wasmCodec.generateKeyPair();
    const point = new Uint8Array(65);
    point[0] = 4;
    expect(outcome(() => pair.deriveKey(point))).toBe("BAD_KEY");
    expect(outcome(() => pair.deriveKey(new Uint8Array(33).fill(2)))).toBe("BAD_KEY");
    expect(outcome(() => keyPairFromSecret(new Uint8Array(32)))).toBe("BAD_KEY");
    expect(outcome(() => keyPairFromSecret(new Uint8Array(32).fill(0xff)))).toBe("BAD_KEY");
    expect(outcome(() => wasmCodec.importKey(new Uint8Array(0)))).toBe("BAD_KEY");
    expect(outcome(() => decodeFrame(valid.frames[0]!, wasmCodec, {}))).toBe("BAD_FRAME");
    expect(healthy()).toBe(true);
  });
});

describe("seeded fuzz", () => {
  const random = prng(0x5eed_c0de);
  const int = (n: number) => Math.floor(random() * n);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  function mutate(input: Uint8Array): Uint8Array {
    const out = input.slice();
    const kind = int(4);
    if (kind === 0 && out.length > 0) {
      for (let i = 0, n = 1 + int(4); i < n; i++) out[int(out.length)] = int(256);
      return out;
    }
    if (kind === 1) return out.subarray(0, int(out.length + 1));
    if (kind === 2) {
      const extra = randomBytes(1 + int(16));
      const joined = new Uint8Array(out.length + extra.length);
      joined.set(out, 0);
      joined.set(extra, out.length);
      return joined;
    }
    const start = int(out.length + 1);
    return out.subarray(start, start + int(out.length));
  }
  const allowed = new Set(["ok", "DECOMPRESS_FAILED", "TOO_LARGE", "DECRYPT_FAILED", "BAD_KEY", "BAD_FRAME"]);

  test("5,000 random and mutated inputs give typed errors and leave the instance usable", () => {
    const tally = new Map<string, number>();
    const pair = wasmCodec.generateKeyPair();
    const seeds = [valid.zlib, valid.zstd, valid.sealed, ...valid.frames];
    for (let i = 0; i < 5000; i++) {
      const input = random() < 0.4 ? randomBytes(int(600)) : mutate(seeds[int(seeds.length)]!);
      const cap = [0, 10, 1000, MiB][int(4)]!;
      const results = [
        outcome(() => wasmCodec.zlibDecompress(input, cap)),
        outcome(() => wasmCodec.zstdDecompress(input, cap)),
        outcome(() => key.decrypt(input)),
        outcome(() => decodeFrame(input, wasmCodec, { key, maxSize: cap })),
        outcome(() => pair.deriveKey(input.length === 65 ? input : Uint8Array.from([4, ...input.subarray(0, 64)]))),
        outcome(() => wasmCodec.importKey(input.subarray(0, int(40)))),
      ];
      for (const r of results) {
        if (!allowed.has(r)) throw new Error(`input #${i} (${input.length} bytes) gave ${r}`);
        tally.set(r, (tally.get(r) ?? 0) + 1);
      }
      if (i % 500 === 0) expect(healthy()).toBe(true);
    }
    expect(healthy()).toBe(true);
    // The loop must actually reach the failure paths it claims to test.
    for (const code of ["DECOMPRESS_FAILED", "DECRYPT_FAILED", "BAD_KEY", "BAD_FRAME"]) expect(tally.get(code) ?? 0).toBeGreaterThan(50);
  }, 120_000);
});
