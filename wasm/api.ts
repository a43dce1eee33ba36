/**
 * The codec contract shared by the server and the client.
 *
 * `wasm/mod.ts` exports an implementation of every name declared here, backed by the
 * Rust→WASM core; `wasm/native.ts` may back the same interface with runtime built-ins
 * (node:zlib, Bun's zstd, node:crypto) where `bench/codec.ts` shows they are faster.
 * Both pass the same test vectors.
 *
 * @module
 */

/** Why a codec operation failed. Every failure of untrusted input maps to one of these. */
export type CodecErrorCode =
  | "DECOMPRESS_FAILED" // corrupt or truncated compressed data
  | "TOO_LARGE" // output would exceed the caller's cap (zip bomb)
  | "DECRYPT_FAILED" // wrong key, bad tag, short or corrupt ciphertext
  | "BAD_KEY" // malformed public key / wrong key length
  | "BAD_FRAME"; // unknown prefix, empty frame, undecodable body

/** A typed codec failure; the codec instance stays usable afterwards. */
export class CodecError extends Error {
  /** Machine-readable reason. */
  readonly code: CodecErrorCode;
  /** Creates a codec error with a machine-readable code. */
  constructor(code: CodecErrorCode, message: string) {
    super(message);
    this.name = "CodecError";
    this.code = code;
  }
}

/** An AES-256-GCM session key; frames use the `E:` body layout IV(12) ‖ ciphertext ‖ tag(16). */
export interface SessionKey {
  /** Encrypts with a 96-bit IV never used before under this key (random, or a random-prefixed counter); returns IV ‖ ciphertext ‖ tag (no `E:` prefix). */
  encrypt(plaintext: Uint8Array): Uint8Array;
  /** Decrypts IV ‖ ciphertext ‖ tag; throws `CodecError("DECRYPT_FAILED")` on any failure. */
  decrypt(body: Uint8Array): Uint8Array;
}

/** An ephemeral P-256 key pair for one connection's key exchange. */
export interface EcdhKeyPair {
  /** 65-byte uncompressed SEC1 point (0x04 ‖ X ‖ Y). */
  readonly publicKey: Uint8Array;
  /**
   * ECDH with the peer's 65-byte public key, then HKDF-SHA256 (salt = 32 zero bytes,
   * info = "wse-encryption/aes-gcm-key", 32 bytes) → the session key.
   * Throws `CodecError("BAD_KEY")` for a malformed or off-curve point.
   */
  deriveKey(peerPublicKey: Uint8Array): SessionKey;
}

/** Compression and cryptography primitives. */
export interface Codec {
  /** Which backend this is. */
  readonly backend: "wasm" | "native";
  /** zlib (RFC 1950) compression. */
  zlibCompress(data: Uint8Array, level?: number): Uint8Array;
  /** zlib decompression; throws `TOO_LARGE` past `maxSize` bytes, `DECOMPRESS_FAILED` on corrupt input. */
  zlibDecompress(data: Uint8Array, maxSize: number): Uint8Array;
  /** zstd compression (a single zstd frame). */
  zstdCompress(data: Uint8Array, level?: number): Uint8Array;
  /** zstd decompression with the same cap rules as `zlibDecompress`. */
  zstdDecompress(data: Uint8Array, maxSize: number): Uint8Array;
  /** A fresh P-256 key pair. */
  generateKeyPair(): EcdhKeyPair;
  /** A session key from 32 raw bytes (tests and key import). */
  importKey(raw: Uint8Array): SessionKey;
}

/** How a frame body was compressed. */
export type Compression = "none" | "zlib" | "zstd";

/** What `decodeFrame` found inside a WebSocket frame. */
export interface DecodedFrame {
  /** The frame was `E:` and has been decrypted. */
  readonly encrypted: boolean;
  /** The compression that was removed. */
  readonly compression: Compression;
  /** `json`: `text` holds the envelope; `msgpack`: `bytes` holds the msgpack map. */
  readonly format: "json" | "msgpack";
  /** The JSON envelope text (legacy `WSE{`/`S{`/`U{` prefixes already stripped). */
  readonly text?: string;
  /** The msgpack body. */
  readonly bytes?: Uint8Array;
}

/** Options for `decodeFrame`. */
export interface DecodeOptions {
  /** Session key for `E:` frames; an `E:` frame without a key is `BAD_FRAME`. */
  key?: SessionKey;
  /** Cap on any decompressed body (default 1 MiB). */
  maxSize?: number;
}

/** Options for `encodeFrame`. */
export interface EncodeOptions {
  /** Compress the body (`C:` zlib or `Z:` zstd). */
  compression?: Compression;
  /** Wrap the result in `E:` with this key. */
  key?: SessionKey;
}

/** What the per-topic sequencer says about one stamped publication (PROTOCOL.md §4). */
export type SequenceVerdict = "deliver" | "duplicate" | "gap" | "rebaseline";

/** A topic's last seen position. */
export interface TopicPosition {
  /** Stream epoch, 8 lowercase hex digits. */
  epoch: string;
  /** Last offset seen (inclusive). */
  offset: number;
}

/**
 * Client-side per-topic `(epoch, offset)` tracker: same epoch and `o ≤ last` → duplicate;
 * `o = last + 1` → deliver; `o > last + 1` → gap (position unchanged); new epoch → rebaseline
 * (deliver, position moves to the new epoch). A topic with no position delivers and starts one.
 */
export interface TopicSequencer {
  /** Classifies a publication and advances the position on deliver/rebaseline. */
  check(topic: string, epoch: string, offset: number): SequenceVerdict;
  /** Sets a topic's position (e.g. from a subscribe reply). */
  reset(topic: string, epoch: string, offset: number): void;
  /** A topic's position, if any. */
  position(topic: string): TopicPosition | undefined;
  /** Forgets a topic. */
  forget(topic: string): void;
  /** Every known position. */
  positions(): Record<string, TopicPosition>;
}

/** A bounded window of recently seen message ids (default 10,000 ids). */
export interface DedupWindow {
  /** True when `id` was seen within the window; otherwise records it and returns false. */
  seen(id: string, nowMs?: number): boolean;
  /** Number of ids held. */
  readonly size: number;
  /** Empties the window. */
  clear(): void;
}
