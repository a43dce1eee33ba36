/**
 * The `Codec` contract backed by runtime built-ins: `node:zlib` (zlib and zstd) and
 * `node:crypto` (P-256 ECDH, HKDF-SHA256, AES-256-GCM). Available in Bun, Deno and Node
 * (`hasNativeBuiltins`); not in browsers, which use the WASM backend. Passes the same vectors
 * as `wasmCodec`.
 *
 * The built-ins are fetched with `process.getBuiltinModule`, not static imports, so this module
 * can sit in a browser bundle (it is then simply unavailable) and is embedded in
 * `bun build --compile` executables like any other module.
 *
 * @example
 * ```ts
 * import { nativeCodec } from "./native.ts";
 * const packed = nativeCodec.zlibCompress(new TextEncoder().encode("hello"));
 * nativeCodec.zlibDecompress(packed, 1 << 20);
 * ```
 * @module
 */
import { type Codec, CodecError, type EcdhKeyPair, type SessionKey } from "./api.ts";
import { withPrefix } from "./frame.ts";

type ZlibModule = typeof import("node:zlib");
type CryptoModule = typeof import("node:crypto");
type BuiltinLoader = { getBuiltinModule?: (id: string) => unknown };

function builtin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: BuiltinLoader }).process;
  try {
    return proc?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

const zlibModule = builtin<ZlibModule>("node:zlib");
const cryptoModule = builtin<CryptoModule>("node:crypto");

/** True where `node:zlib` and `node:crypto` exist (Bun, Deno, Node), so `nativeCodec` works. */
export const hasNativeBuiltins: boolean = zlibModule !== undefined && cryptoModule !== undefined;

function zlib(): ZlibModule {
  if (!zlibModule) throw new CodecError("BAD_FRAME", "node:zlib is not available in this runtime");
  return zlibModule;
}

function crypto(): CryptoModule {
  if (!cryptoModule) throw new CodecError("BAD_KEY", "node:crypto is not available in this runtime");
  return cryptoModule;
}

/** HKDF info string of the WSE key exchange (PROTOCOL.md §6). */
export const HKDF_INFO = "wse-encryption/aes-gcm-key";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const NO_SALT = new Uint8Array(32);
const NO_PREFIX = new Uint8Array(0);

type ZstdApi = {
  zstdCompressSync(data: Uint8Array, options?: object): Uint8Array;
  zstdDecompressSync(data: Uint8Array, options?: object): Uint8Array;
  constants: Record<string, number>;
};
const zstdApi = (): ZstdApi => zlib() as unknown as ZstdApi;

function view(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function clampLevel(level: number, min: number, max: number): number {
  return Number.isFinite(level) ? Math.min(max, Math.max(min, Math.trunc(level))) : min;
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The content size a zstd frame header declares, `undefined` when it declares none, and
 * `-1` when the data is not a complete zstd frame header at all.
 */
export function zstdDeclaredSize(data: Uint8Array): number | undefined {
  if (data.length < 5) return -1;
  const magic = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) return -1;
  const descriptor = data[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][descriptor & 3]!;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return undefined;
  const start = 5 + (singleSegment ? 0 : 1) + dictBytes;
  if (data.length < start + fcsBytes) return -1;
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + data[start + i]!;
  return fcsBytes === 2 ? size + 256 : size;
}

function decompressError(error: unknown, what: string, maxSize: number): CodecError {
  const code = (error as { code?: string }).code;
  if (code === "ERR_BUFFER_TOO_LARGE") return new CodecError("TOO_LARGE", `${what} output exceeds ${maxSize} bytes`);
  return new CodecError("DECOMPRESS_FAILED", `${what} data is corrupt or truncated`);
}

/**
 * Advances a 12-byte IV (4-byte prefix ‖ 64-bit big-endian counter) by one; `low` is the value
 * of its bytes 8–11, the new value is returned. The prefix never changes; the counter wraps
 * only after 2^64 steps.
 */
export function advanceIv(iv: Uint8Array, low: number): number {
  const next = (low + 1) >>> 0;
  iv[8] = next >>> 24;
  iv[9] = (next >>> 16) & 0xff;
  iv[10] = (next >>> 8) & 0xff;
  iv[11] = next & 0xff;
  if (next === 0) {
    // Carry into the counter's high 32 bits (bytes 4–7).
    for (let i = 7; i >= 4; i--) {
      iv[i] = (iv[i]! + 1) & 0xff;
      if (iv[i] !== 0) break;
    }
  }
  return next;
}

/**
 * An AES-256-GCM key with its own IV sequence. GCM needs an IV that never repeats under one
 * key, not an unpredictable one (NIST SP 800-38D §8.2.1, deterministic construction): each key
 * starts from 12 random bytes (a 4-byte random prefix and a random 64-bit start) and each frame
 * takes the next value of the low 8 bytes as a big-endian counter, so a key never repeats an IV
 * before 2^64 frames. Starting the counter at a random point, not at 0, keeps the two directions
 * of a connection (the peer encrypts under the same key with IVs of its own) as unlikely to
 * collide as fully random IVs are. It saves a `randomBytes` call per frame.
 */
class NativeSessionKey implements SessionKey {
  readonly #key: Uint8Array;
  /** The last IV used: 4-byte prefix ‖ 64-bit big-endian counter (createCipheriv copies it). */
  readonly #iv: Uint8Array;
  /** The counter's low 32 bits (bytes 8–11 of the IV). */
  #low: number;
  constructor(key: Uint8Array) {
    this.#key = key;
    const iv = new Uint8Array(crypto().randomBytes(IV_BYTES));
    this.#iv = iv;
    this.#low = ((iv[8]! << 24) | (iv[9]! << 16) | (iv[10]! << 8) | iv[11]!) >>> 0;
  }
  #nextIv(): Uint8Array {
    this.#low = advanceIv(this.#iv, this.#low);
    return this.#iv;
  }
  encrypt(plaintext: Uint8Array): Uint8Array {
    return this.seal(NO_PREFIX, plaintext);
  }
  /** `prefix` ‖ IV ‖ ciphertext ‖ tag in one allocation (the `E:` frame when `prefix` is `E:`). */
  seal(prefix: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const iv = this.#nextIv();
    const cipher = crypto().createCipheriv("aes-256-gcm", this.#key, iv);
    const head = cipher.update(plaintext);
    const tail = cipher.final(); // empty for GCM, but it computes the tag
    const start = prefix.length;
    const out = new Uint8Array(start + IV_BYTES + head.length + tail.length + TAG_BYTES);
    if (start > 0) out.set(prefix, 0);
    out.set(iv, start);
    out.set(head, start + IV_BYTES);
    if (tail.length > 0) out.set(tail, start + IV_BYTES + head.length);
    out.set(cipher.getAuthTag(), out.length - TAG_BYTES);
    return out;
  }
  decrypt(body: Uint8Array): Uint8Array {
    if (body.length < IV_BYTES + TAG_BYTES) throw new CodecError("DECRYPT_FAILED", "encrypted body is too short");
    try {
      const decipher = crypto().createDecipheriv("aes-256-gcm", this.#key, body.subarray(0, IV_BYTES));
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

/**
 * `prefix` ‖ `key.encrypt(plaintext)` — in one allocation when `key` is a native key (the
 * server's `E:` frames), otherwise by concatenation.
 */
export function encryptWithPrefix(key: SessionKey, prefix: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return key instanceof NativeSessionKey ? key.seal(prefix, plaintext) : withPrefix(prefix, key.encrypt(plaintext));
}

function importRawKey(raw: Uint8Array): SessionKey {
  if (raw.length !== 32) throw new CodecError("BAD_KEY", `AES-256 key must be 32 bytes, got ${raw.length}`);
  return new NativeSessionKey(Uint8Array.from(raw));
}

function generateKeyPair(): EcdhKeyPair {
  const ecdh = crypto().createECDH("prime256v1");
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
      return new NativeSessionKey(new Uint8Array(crypto().hkdfSync("sha256", secret, NO_SALT, HKDF_INFO, 32)));
    },
  };
}

/** The built-in-backed codec. */
export const nativeCodec: Codec = {
  backend: "native",
  zlibCompress(data, level = 6) {
    return view(zlib().deflateSync(data, { level: clampLevel(level, 0, 9) }));
  },
  zlibDecompress(data, maxSize) {
    let result: { buffer: Uint8Array; engine: { bytesWritten: number } };
    try {
      result = zlib().inflateSync(data, { maxOutputLength: Math.max(1, maxSize), info: true }) as unknown as typeof result;
    } catch (error) {
      throw decompressError(error, "zlib", maxSize);
    }
    if (result.engine.bytesWritten !== data.length) {
      throw new CodecError("DECOMPRESS_FAILED", "zlib data has trailing bytes after the stream");
    }
    return view(result.buffer);
  },
  zstdCompress(data, level = 3) {
    const api = zstdApi();
    return view(api.zstdCompressSync(data, { params: { [api.constants.ZSTD_c_compressionLevel]: clampLevel(level, 1, 22) } }));
  },
  zstdDecompress(data, maxSize) {
    const declared = zstdDeclaredSize(data);
    let out: Uint8Array;
    try {
      out = view(zstdApi().zstdDecompressSync(data, { maxOutputLength: Math.max(1, maxSize) }));
    } catch (error) {
      throw decompressError(error, "zstd", maxSize);
    }
    // node:zlib's zstd returns what it has for a truncated frame instead of failing; a frame
    // whose header declares its size is checked against it, an undeclared one must yield bytes.
    if (declared === undefined ? out.length === 0 && data.length > 0 : declared !== out.length) {
      throw new CodecError("DECOMPRESS_FAILED", "zstd data is corrupt or truncated");
    }
    return out;
  },
  generateKeyPair,
  importKey: importRawKey,
};
