/**
 * Runtime-agnostic test cases of the codec facade `wasm/mod.ts`, registered by the Bun, Deno
 * and Node runners (`wasm/mod.test.ts`, `wasm/mod.deno-test.ts`, `wasm/mod.node-test.ts`) so
 * the same import is exercised in every runtime.
 * @module
 */
import assert from "node:assert/strict";
import {
  CodecError,
  type CodecErrorCode,
  createDedupWindow,
  createSequencer,
  decodeFrame,
  defaultCodec,
  encodeFrame,
  nativeCodecIfAvailable,
  wasmCodec,
} from "../../wasm/mod.ts";

/** One named check. */
export interface FacadeCase {
  /** Test name. */
  name: string;
  /** The check; throws on failure. */
  run: () => void;
}

const utf8 = new TextEncoder();
const MiB = 1 << 20;

/** Deterministic text-like sample of `n` bytes (compressible, like JSON envelopes). */
export function sample(n: number): Uint8Array<ArrayBuffer> {
  const words = utf8.encode('{"t":"price_update","p":{"symbol":"ACME","bid":101.25,"ask":101.5},"o":');
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = words[i % words.length]! ^ ((i / 131) & 7);
  return out;
}

/** Asserts that `fn` throws a `CodecError` with `code`. */
export function assertCodecError(fn: () => unknown, code: CodecErrorCode): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CodecError, `expected CodecError(${code}), got ${String(error)}`);
    assert.equal((error as CodecError).code, code, (error as Error).message);
    return;
  }
  assert.fail(`expected CodecError(${code}), nothing was thrown`);
}

const SIZES = [0, 1, 100, 1024, 16 * 1024, 256 * 1024];

/** The cases. */
export const facadeCases: FacadeCase[] = [
  {
    name: "wasmCodec reports its backend",
    run: () => assert.equal(wasmCodec.backend, "wasm"),
  },
  {
    name: "zlib round-trips every size, output is RFC 1950",
    run: () => {
      for (const n of SIZES) {
        const data = sample(n);
        const packed = wasmCodec.zlibCompress(data);
        assert.equal(packed[0], 0x78);
        assert.deepEqual(wasmCodec.zlibDecompress(packed, n), data);
        assert.deepEqual(wasmCodec.zlibDecompress(wasmCodec.zlibCompress(data, 9), MiB), data);
      }
    },
  },
  {
    name: "zstd round-trips every size, output is one zstd frame",
    run: () => {
      for (const n of SIZES) {
        const data = sample(n);
        const packed = wasmCodec.zstdCompress(data);
        assert.deepEqual([...packed.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
        assert.deepEqual(wasmCodec.zstdDecompress(packed, n), data);
        assert.deepEqual(wasmCodec.zstdDecompress(wasmCodec.zstdCompress(data, 19), MiB), data);
      }
    },
  },
  {
    name: "decompression caps are exact and typed",
    run: () => {
      const data = sample(5000);
      const z = wasmCodec.zlibCompress(data);
      const s = wasmCodec.zstdCompress(data);
      assert.equal(wasmCodec.zlibDecompress(z, 5000).length, 5000);
      assert.equal(wasmCodec.zstdDecompress(s, 5000).length, 5000);
      assertCodecError(() => wasmCodec.zlibDecompress(z, 4999), "TOO_LARGE");
      assertCodecError(() => wasmCodec.zstdDecompress(s, 4999), "TOO_LARGE");
      assertCodecError(() => wasmCodec.zlibDecompress(z, -1), "BAD_FRAME");
      assertCodecError(() => wasmCodec.zstdDecompress(s, Number.NaN), "BAD_FRAME");
      assert.equal(wasmCodec.zlibDecompress(z, Number.POSITIVE_INFINITY).length, 5000);
      const huge = new Uint8Array(256 * MiB + 1);
      assertCodecError(() => wasmCodec.zlibCompress(huge), "TOO_LARGE");
      assertCodecError(() => wasmCodec.importKey(new Uint8Array(32)).encrypt(huge), "TOO_LARGE");
    },
  },
  {
    name: "zip bombs are TOO_LARGE",
    run: () => {
      const zeros = new Uint8Array(32 * MiB);
      assertCodecError(() => wasmCodec.zlibDecompress(wasmCodec.zlibCompress(zeros, 9), MiB), "TOO_LARGE");
      assertCodecError(() => wasmCodec.zstdDecompress(wasmCodec.zstdCompress(zeros), MiB), "TOO_LARGE");
    },
  },
  {
    name: "corrupt and truncated compressed data are DECOMPRESS_FAILED",
    run: () => {
      const z = wasmCodec.zlibCompress(sample(4000));
      const s = wasmCodec.zstdCompress(sample(4000));
      assertCodecError(() => wasmCodec.zlibDecompress(z.subarray(0, z.length - 3), MiB), "DECOMPRESS_FAILED");
      assertCodecError(() => wasmCodec.zstdDecompress(s.subarray(0, s.length - 3), MiB), "DECOMPRESS_FAILED");
      assertCodecError(() => wasmCodec.zlibDecompress(new Uint8Array(0), MiB), "DECOMPRESS_FAILED");
      assertCodecError(() => wasmCodec.zstdDecompress(new Uint8Array(0), MiB), "DECOMPRESS_FAILED");
      assertCodecError(() => wasmCodec.zlibDecompress(utf8.encode("xyz"), MiB), "DECOMPRESS_FAILED");
      assertCodecError(() => wasmCodec.zstdDecompress(utf8.encode("xyz"), MiB), "DECOMPRESS_FAILED");
    },
  },
  {
    name: "ECDH + HKDF: both sides derive one key; E: layout and fresh IVs",
    run: () => {
      const a = wasmCodec.generateKeyPair();
      const b = wasmCodec.generateKeyPair();
      assert.equal(a.publicKey.length, 65);
      assert.equal(a.publicKey[0], 4);
      const ka = a.deriveKey(b.publicKey);
      const kb = b.deriveKey(a.publicKey);
      const message = utf8.encode('{"t":"secret","p":{}}');
      const body = ka.encrypt(message);
      assert.equal(body.length, 12 + message.length + 16);
      assert.deepEqual(kb.decrypt(body), message);
      assert.notDeepEqual(ka.encrypt(message).subarray(0, 12), body.subarray(0, 12));
      assert.deepEqual(kb.decrypt(ka.encrypt(new Uint8Array(0))), new Uint8Array(0));
    },
  },
  {
    name: "AES-256-GCM matches NIST test case 14 layout",
    run: () => {
      const key = wasmCodec.importKey(new Uint8Array(32));
      const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
      const body = new Uint8Array(44);
      body.set(hex("cea7403d4d606b6e074ec5d3baf39d18"), 12);
      body.set(hex("d0d1c8a799996bf0265b98b5d48ab919"), 28);
      assert.deepEqual(key.decrypt(body), new Uint8Array(16));
    },
  },
  {
    name: "bad keys are BAD_KEY, bad ciphertexts DECRYPT_FAILED",
    run: () => {
      const pair = wasmCodec.generateKeyPair();
      const peer = wasmCodec.generateKeyPair().publicKey;
      assertCodecError(() => pair.deriveKey(peer.subarray(0, 64)), "BAD_KEY");
      const offCurve = peer.slice();
      offCurve[64]! ^= 1;
      assertCodecError(() => pair.deriveKey(offCurve), "BAD_KEY");
      assertCodecError(() => wasmCodec.importKey(new Uint8Array(16)), "BAD_KEY");
      const key = wasmCodec.importKey(new Uint8Array(32).fill(1));
      const other = wasmCodec.importKey(new Uint8Array(32).fill(2));
      const body = key.encrypt(sample(100));
      assertCodecError(() => other.decrypt(body), "DECRYPT_FAILED");
      const tampered = body.slice();
      tampered[tampered.length - 1]! ^= 1;
      assertCodecError(() => key.decrypt(tampered), "DECRYPT_FAILED");
      assertCodecError(() => key.decrypt(body.subarray(0, 27)), "DECRYPT_FAILED");
      assert.deepEqual(key.decrypt(body), sample(100));
    },
  },
  {
    name: "frames: C:, Z: and E: through the frame layer with wasmCodec",
    run: () => {
      const text = '{"c":"U","t":"hello","p":{"n":1}}'.repeat(40);
      const key = wasmCodec.importKey(new Uint8Array(32).fill(7));
      for (const compression of ["none", "zlib", "zstd"] as const) {
        const wire = encodeFrame(text, wasmCodec, { compression, key });
        assert.ok(wire instanceof Uint8Array);
        assert.equal(String.fromCharCode(wire[0]!, wire[1]!), "E:");
        const decoded = decodeFrame(wire, wasmCodec, { key });
        assert.equal(decoded.text, text);
        assert.equal(decoded.compression, compression);
        assert.equal(decoded.encrypted, true);
      }
    },
  },
  {
    name: "sequencer: deliver, duplicate, gap, rebaseline per topic",
    run: () => {
      const seq = createSequencer();
      assert.equal(seq.check("a", "0000beef", 41), "deliver");
      assert.equal(seq.check("a", "0000beef", 42), "deliver");
      assert.equal(seq.check("a", "0000beef", 42), "duplicate");
      assert.equal(seq.check("a", "0000beef", 44), "gap");
      assert.deepEqual(seq.position("a"), { epoch: "0000beef", offset: 42 });
      assert.equal(seq.check("a", "cafe0001", 0), "rebaseline");
      seq.reset("b", "00000001", 9);
      assert.equal(seq.check("b", "00000001", 10), "deliver");
      assert.deepEqual(seq.positions(), {
        a: { epoch: "cafe0001", offset: 0 },
        b: { epoch: "00000001", offset: 10 },
      });
      seq.forget("a");
      assert.equal(seq.position("a"), undefined);
      assertCodecError(() => seq.check("a", "0000beef", -1), "BAD_FRAME");
      assertCodecError(() => seq.check("a", "0000beef", 1.5), "BAD_FRAME");
      assert.equal(seq.check("a", "0000beef", Number.MAX_SAFE_INTEGER), "deliver");
      assert.equal(seq.position("a")!.offset, Number.MAX_SAFE_INTEGER);
    },
  },
  {
    name: "dedup window: 10,000 ids by default, oldest out first, max age",
    run: () => {
      const window = createDedupWindow();
      for (let i = 0; i <= 10_000; i++) assert.equal(window.seen(`id-${i}`, 0), false);
      assert.equal(window.size, 10_000);
      assert.equal(window.seen("id-10000", 1), true);
      assert.equal(window.seen("id-0", 1), false, "id-0 was evicted");
      window.clear();
      assert.equal(window.size, 0);
      const aged = createDedupWindow(100, 1000);
      assert.equal(aged.seen("x", 0), false);
      assert.equal(aged.seen("x", 999), true);
      assert.equal(aged.seen("x", 1000), false);
      assert.equal(aged.seen("y"), false);
      assert.equal(aged.seen("y"), true);
    },
  },
  {
    name: "defaultCodec passes the same vectors as wasmCodec",
    run: () => {
      const data = sample(20_000);
      for (const [from, to] of [
        [wasmCodec, defaultCodec],
        [defaultCodec, wasmCodec],
      ] as const) {
        assert.deepEqual(to.zlibDecompress(from.zlibCompress(data), data.length), data);
        assert.deepEqual(to.zstdDecompress(from.zstdCompress(data), data.length), data);
        const a = from.generateKeyPair();
        const b = to.generateKeyPair();
        const body = a.deriveKey(b.publicKey).encrypt(data);
        assert.deepEqual(b.deriveKey(a.publicKey).decrypt(body), data);
      }
      assertCodecError(() => defaultCodec.zlibDecompress(wasmCodec.zlibCompress(data), 100), "TOO_LARGE");
      assertCodecError(() => defaultCodec.zstdDecompress(wasmCodec.zstdCompress(data), 100), "TOO_LARGE");
    },
  },
  {
    name: "defaultCodec routes zlib and crypto to the built-ins and zstd to wasm on server runtimes",
    run: () => {
      assert.equal(nativeCodecIfAvailable?.backend, "native", "Bun, Deno and Node have node:zlib and node:crypto");
      assert.equal(defaultCodec.backend, "native");
      // node:zlib's zstdDecompressSync returns empty output for a truncated frame; the WASM
      // path rejects it, so this shows which backend decoded.
      const truncated = wasmCodec.zstdCompress(sample(5000)).subarray(0, 40);
      assertCodecError(() => defaultCodec.zstdDecompress(truncated, MiB), "DECOMPRESS_FAILED");
    },
  },
];
