/**
 * `defaultCodec`: per operation, the faster of the WASM core and the runtime's built-ins, as
 * measured by `bench/codec.ts` (see `bench/results/codec-*.json` and the README's codec table).
 *
 * The rule is deliberately simple: where the runtime has `node:zlib` / `node:crypto` (Bun, Deno,
 * Node), operations listed in `NATIVE_OPERATIONS` use `nativeCodec` (`./native.ts`); everything
 * else, and every operation in browsers, uses `wasmCodec`. Both backends pass the same test
 * vectors (`test/codec/facade-cases.ts`), so the choice changes speed, never behaviour.
 *
 * `./native.ts` reaches `node:zlib` / `node:crypto` through `process.getBuiltinModule`, so it
 * bundles for browsers (where it reports itself unavailable) and is embedded in
 * `bun build --compile` executables, which therefore get the native paths too.
 * @module
 */
import type { Codec } from "./api.ts";
import { hasNativeBuiltins, nativeCodec } from "./native.ts";
import { wasmCodec } from "./wasm-codec.ts";

/** Codec operations that `defaultCodec` may route to a backend. */
export type CodecOperation = Exclude<keyof Codec, "backend">;

/**
 * Operations routed to the built-ins on Bun, Deno and Node (bench/results/codec-{bun,deno,node}.json,
 * same-run ratios native ÷ wasm):
 * - zlib: node:zlib compresses 1.1–3× faster at every size; it inflates 1.2–2× faster at
 *   16–256 KB (WASM leads by a few µs per message at 100 B–1 KB), so zlib goes native.
 * - AES-GCM (`importKey`, and the keys `generateKeyPair().deriveKey` returns): node:crypto
 *   uses AES-NI; 2.4–190× faster on Bun, 1.4–54× on Node, 1.7–5× on Deno from 1 KB up
 *   (Deno's is 0.7–0.8× at 100 B). WASM AES-GCM is a constant-time software AES: ~20–28 MB/s.
 * - ECDH+HKDF (`generateKeyPair`): node:crypto 11–16× faster on Bun and Node, 1.7× on Deno.
 * zstd stays on WASM: node:zlib's zstd is slower than the WASM build at 100 B–16 KB on all
 * three runtimes (0.15–0.77×; Bun's own `Bun.zstd*Sync` is faster but its decompressor has no
 * output cap, so it cannot take untrusted input).
 */
export const NATIVE_OPERATIONS: ReadonlySet<CodecOperation> = new Set<CodecOperation>([
  "zlibCompress",
  "zlibDecompress",
  "generateKeyPair",
  "importKey",
]);

/**
 * Builds a codec that takes each operation in `nativeOps` from `native`, the rest from `wasm`.
 * Its `backend` is `"native"` when any operation is routed to `native`.
 */
export function combineCodecs(wasm: Codec, native: Codec | undefined, nativeOps: ReadonlySet<CodecOperation>): Codec {
  if (!native) return wasm;
  const pick = (op: CodecOperation): Codec => (nativeOps.has(op) ? native : wasm);
  const zlibC = pick("zlibCompress");
  const zlibD = pick("zlibDecompress");
  const zstdC = pick("zstdCompress");
  const zstdD = pick("zstdDecompress");
  const keys = pick("generateKeyPair");
  const imports = pick("importKey");
  return {
    backend: nativeOps.size > 0 ? "native" : "wasm",
    zlibCompress: (data, level) => zlibC.zlibCompress(data, level),
    zlibDecompress: (data, maxSize) => zlibD.zlibDecompress(data, maxSize),
    zstdCompress: (data, level) => zstdC.zstdCompress(data, level),
    zstdDecompress: (data, maxSize) => zstdD.zstdDecompress(data, maxSize),
    generateKeyPair: () => keys.generateKeyPair(),
    importKey: (raw) => imports.importKey(raw),
  };
}

/** The native codec when this runtime has one, else `undefined` (browsers). */
export const nativeCodecIfAvailable: Codec | undefined = hasNativeBuiltins ? nativeCodec : undefined;

/** The codec both sides should use: per operation the faster backend on this runtime. */
export const defaultCodec: Codec = combineCodecs(wasmCodec, nativeCodecIfAvailable, NATIVE_OPERATIONS);
