/**
 * `defaultCodec`: per operation, the faster of the WASM core and the runtime's built-ins, as
 * measured by `bench/codec.ts` (see `bench/results/codec-*.json` and the README's codec table).
 *
 * The rule is deliberately simple: where the runtime has `node:zlib` / `node:crypto` (Bun, Deno,
 * Node), operations listed in `NATIVE_OPERATIONS` use `nativeCodec` (`./native.ts`); everything
 * else, and every operation in browsers, uses `wasmCodec`. Both backends pass the same test
 * vectors (`test/codec/facade-cases.ts`), so the choice changes speed, never behaviour.
 *
 * `./native.ts` imports `node:*` modules, which browser bundles cannot resolve, so it is loaded
 * with a dynamic import whose specifier bundlers do not follow, and only when `process` exists.
 * @module
 */
import type { Codec } from "./api.ts";
import { wasmCodec } from "./wasm-codec.ts";

/** Codec operations that `defaultCodec` may route to a backend. */
export type CodecOperation = Exclude<keyof Codec, "backend">;

/**
 * Operations where the built-ins measured clearly faster on server runtimes (bench/codec.ts):
 * C zlib and zstd run natively, and OpenSSL/BoringSSL AES-GCM uses AES-NI, which wasm lacks.
 */
export const NATIVE_OPERATIONS: ReadonlySet<CodecOperation> = new Set<CodecOperation>([
  "zlibCompress",
  "zlibDecompress",
  "zstdCompress",
  "zstdDecompress",
  "generateKeyPair",
  "importKey",
]);

function hasNodeBuiltins(): boolean {
  const proc = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process;
  return typeof proc?.versions?.node === "string";
}

/** Loads `nativeCodec` where the runtime has node built-ins; `undefined` elsewhere or on failure. */
export async function loadNativeCodec(): Promise<Codec | undefined> {
  if (!hasNodeBuiltins()) return undefined;
  const specifier = "./native.ts";
  try {
    const module = (await import(specifier)) as { nativeCodec?: Codec };
    return module.nativeCodec;
  } catch {
    return undefined;
  }
}

/** Builds a codec that takes each operation in `nativeOps` from `native`, the rest from `wasm`. */
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
export const nativeCodecIfAvailable: Codec | undefined = await loadNativeCodec();

/** The codec both sides should use: per operation the faster backend on this runtime. */
export const defaultCodec: Codec = combineCodecs(wasmCodec, nativeCodecIfAvailable, NATIVE_OPERATIONS);
