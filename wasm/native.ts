/**
 * The `Codec` contract backed by runtime built-ins: `node:zlib` (zlib and zstd) and
 * `node:crypto` (P-256 ECDH, HKDF-SHA256, AES-256-GCM). Available in Bun, Deno and Node;
 * not in browsers (they use the WASM backend). Passes the same vectors as `wasmCodec`.
 *
 * @example
 * ```ts
 * import { nativeCodec } from "./native.ts";
 * const packed = nativeCodec.zlibCompress(new TextEncoder().encode("hello"));
 * nativeCodec.zlibDecompress(packed, 1 << 20);
 * ```
 * @module
 */
import { createCipheriv, createDecipheriv, createECDH, hkdfSync, randomBytes } from "node:crypto";
import * as zlib from "node:zlib";
import { type Codec, CodecError, type EcdhKeyPair, type SessionKey } from "./api.ts";

/** HKDF info string of the WSE key exchange (PROTOCOL.md §6). */
export const HKDF_INFO = "wse-encryption/aes-gcm-key";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const NO_SALT = new Uint8Array(32);

type ZstdApi = {
  zstdCompressSync(data: Uint8Array, options?: object): Uint8Array;
  zstdDecompressSync(data: Uint8Array, options?: object): Uint8Array;
  constants: Record<string, number>;
};
const zstdApi = zlib as unknown as ZstdApi;

function view(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function decompressError(error: unknown, what: string, maxSize: number): CodecError {
  const code = (error as { code?: string }).code;
  if (code === "ERR_BUFFER_TOO_LARGE") return new CodecError("TOO_LARGE", `${what} output exceeds ${maxSize} bytes`);
  return new CodecError("DECOMPRESS_FAILED", `${what} data is corrupt or truncated`);
}

class NativeSessionKey implements SessionKey {
  readonly #key: Uint8Array;
  constructor(key: Uint8Array) {
    this.#key = key;
  }
  encrypt(plaintext: Uint8Array): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const out = new Uint8Array(IV_BYTES + head.length + tail.length + TAG_BYTES);
    out.set(iv, 0);
    out.set(head, IV_BYTES);
    out.set(tail, IV_BYTES + head.length);
    out.set(cipher.getAuthTag(), out.length - TAG_BYTES);
    return out;
  }
  decrypt(body: Uint8Array): Uint8Array {
    if (body.length < IV_BYTES + TAG_BYTES) throw new CodecError("DECRYPT_FAILED", "encrypted body is too short");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, body.subarray(0, IV_BYTES));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const head = decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES));
      const tail = decipher.final();
      if (tail.length === 0) return view(head);
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return out;
    } catch {
      throw new CodecError("DECRYPT_FAILED", "decryption failed (wrong key or tampered frame)");
    }
  }
}

function importRawKey(raw: Uint8Array): SessionKey {
  if (raw.length !== 32) throw new CodecError("BAD_KEY", `AES-256 key must be 32 bytes, got ${raw.length}`);
  return new NativeSessionKey(Uint8Array.from(raw));
}

function generateKeyPair(): EcdhKeyPair {
  const ecdh = createECDH("prime256v1");
  const publicKey = view(ecdh.generateKeys());
  return {
    publicKey,
    deriveKey(peerPublicKey: Uint8Array): SessionKey {
      if (peerPublicKey.length !== 65 || peerPublicKey[0] !== 0x04) {
        throw new CodecError("BAD_KEY", "peer public key must be a 65-byte uncompressed P-256 point");
      }
      let secret: Uint8Array;
      try {
        secret = ecdh.computeSecret(peerPublicKey);
      } catch {
        throw new CodecError("BAD_KEY", "peer public key is not a valid P-256 point");
      }
      return new NativeSessionKey(new Uint8Array(hkdfSync("sha256", secret, NO_SALT, HKDF_INFO, 32)));
    },
  };
}

/** The built-in-backed codec. */
export const nativeCodec: Codec = {
  backend: "native",
  zlibCompress(data, level = 6) {
    return view(zlib.deflateSync(data, { level }));
  },
  zlibDecompress(data, maxSize) {
    try {
      return view(zlib.inflateSync(data, { maxOutputLength: Math.max(1, maxSize) }));
    } catch (error) {
      throw decompressError(error, "zlib", maxSize);
    }
  },
  zstdCompress(data, level = 3) {
    return view(zstdApi.zstdCompressSync(data, { params: { [zstdApi.constants.ZSTD_c_compressionLevel]: level } }));
  },
  zstdDecompress(data, maxSize) {
    try {
      return view(zstdApi.zstdDecompressSync(data, { maxOutputLength: Math.max(1, maxSize) }));
    } catch (error) {
      throw decompressError(error, "zstd", maxSize);
    }
  },
  generateKeyPair,
  importKey: importRawKey,
};
