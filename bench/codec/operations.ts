/**
 * The operations of the codec benchmark. WASM, WebCrypto and fflate exist everywhere
 * (including browsers); the runtime's built-ins (`nativeCodec`, Bun's zstd) are passed in
 * where they exist, so this module itself imports no `node:*` module.
 * @module
 */
import { unzlibSync, zlibSync } from "fflate";
import type { Codec } from "../../wasm/api.ts";
import { wasmCodec } from "../../wasm/wasm-codec.ts";
import type { Candidate, Operation } from "./core.ts";

/** Optional runtime built-ins to compare with. */
export interface Builtins {
  /** `nativeCodec` from wasm/native.ts (node:zlib, node:crypto). */
  native?: Codec;
  /** Bun's own zstd functions. */
  bunZstd?: {
    zstdCompressSync(d: Uint8Array, o?: { level?: number }): Uint8Array;
    zstdDecompressSync(d: Uint8Array): Uint8Array;
  };
}

const MiB = 1 << 20;
const KEY = new Uint8Array(32).fill(7);
const INFO = new TextEncoder().encode("wse-encryption/aes-gcm-key");

/** Types a byte view as WebCrypto input (TS 5.9 distinguishes ArrayBufferLike). */
const bs = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

/** Every benchmark operation with the candidates available on this runtime. */
export async function codecOperations(builtins: Builtins): Promise<Operation[]> {
  const { native, bunZstd } = builtins;
  const aes = await crypto.subtle.importKey("raw", KEY, "AES-GCM", false, ["encrypt", "decrypt"]);
  const wasmKey = wasmCodec.importKey(KEY);
  const nativeKey = native?.importKey(KEY);
  const iv = new Uint8Array(12).fill(1);
  const when = <T>(value: unknown, candidate: () => T): T[] => (value ? [candidate()] : []);
  return [
    {
      name: "zlib compress",
      sized: true,
      candidates: (d): Candidate[] => [
        { implementation: "wasm", run: () => wasmCodec.zlibCompress(d), outputBytes: () => wasmCodec.zlibCompress(d).length },
        ...when(native, () => ({ implementation: "native (node:zlib)", run: () => native!.zlibCompress(d), outputBytes: () => native!.zlibCompress(d).length })),
        { implementation: "fflate", run: () => zlibSync(d, { level: 6 }), outputBytes: () => zlibSync(d, { level: 6 }).length },
      ],
    },
    {
      name: "zlib decompress",
      sized: true,
      candidates: (d): Candidate[] => {
        const z = wasmCodec.zlibCompress(d);
        return [
          { implementation: "wasm", run: () => wasmCodec.zlibDecompress(z, MiB) },
          ...when(native, () => ({ implementation: "native (node:zlib)", run: () => native!.zlibDecompress(z, MiB) })),
          { implementation: "fflate", run: () => unzlibSync(z) },
        ];
      },
    },
    {
      name: "zstd compress",
      sized: true,
      candidates: (d): Candidate[] => [
        { implementation: "wasm", run: () => wasmCodec.zstdCompress(d), outputBytes: () => wasmCodec.zstdCompress(d).length },
        ...when(native, () => ({ implementation: "native (node:zlib)", run: () => native!.zstdCompress(d), outputBytes: () => native!.zstdCompress(d).length })),
        ...when(bunZstd, () => ({
          implementation: "Bun.zstdCompressSync",
          run: () => bunZstd!.zstdCompressSync(d, { level: 3 }),
          outputBytes: () => bunZstd!.zstdCompressSync(d, { level: 3 }).length,
        })),
      ],
    },
    {
      name: "zstd decompress",
      sized: true,
      candidates: (d): Candidate[] => {
        const z = wasmCodec.zstdCompress(d);
        return [
          { implementation: "wasm", run: () => wasmCodec.zstdDecompress(z, MiB) },
          ...when(native, () => ({ implementation: "native (node:zlib)", run: () => native!.zstdDecompress(z, MiB) })),
          ...when(bunZstd, () => ({ implementation: "Bun.zstdDecompressSync (no cap)", run: () => bunZstd!.zstdDecompressSync(z) })),
        ];
      },
    },
    {
      name: "AES-GCM encrypt",
      sized: true,
      candidates: (d): Candidate[] => [
        { implementation: "wasm", run: () => wasmKey.encrypt(d) },
        ...when(nativeKey, () => ({ implementation: "native (node:crypto)", run: () => nativeKey!.encrypt(d) })),
        { implementation: "WebCrypto (async)", isAsync: true, run: () => crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, bs(d)) },
      ],
    },
    {
      name: "AES-GCM decrypt",
      sized: true,
      candidates: (d): Candidate[] => {
        const body = wasmKey.encrypt(d);
        const bodyIv = bs(body.subarray(0, 12));
        const sealed = bs(body.subarray(12));
        return [
          { implementation: "wasm", run: () => wasmKey.decrypt(body) },
          ...when(nativeKey, () => ({ implementation: "native (node:crypto)", run: () => nativeKey!.decrypt(body) })),
          { implementation: "WebCrypto (async)", isAsync: true, run: () => crypto.subtle.decrypt({ name: "AES-GCM", iv: bodyIv }, aes, sealed) },
        ];
      },
    },
    {
      name: "ECDH+HKDF handshake",
      sized: false,
      candidates: (): Candidate[] => {
        const handshake = (codec: Codec) => {
          const peer = codec.generateKeyPair();
          return () => codec.generateKeyPair().deriveKey(peer.publicKey);
        };
        return [
          { implementation: "wasm", run: handshake(wasmCodec) },
          ...when(native, () => ({ implementation: "native (node:crypto)", run: handshake(native!) })),
          {
            implementation: "WebCrypto (async)",
            isAsync: true,
            run: async () => {
              const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
              const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: pair.publicKey }, pair.privateKey, 256);
              const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
              return crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: INFO }, ikm, 256);
            },
          },
        ];
      },
    },
  ];
}
