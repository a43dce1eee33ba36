/**
 * The client's side of the wire: envelopes to frames and frames to envelopes, through the
 * shared frame codec (`wasm/frame.ts`) and envelope parser (`wasm/envelope.ts`), with the
 * connection's session key once end-to-end encryption is on.
 *
 * @module
 */
import { type Codec, CodecError, type EcdhKeyPair, type SessionKey } from "../wasm/api.ts";
import { type Envelope, EnvelopeError, envelopeToJson, parseEnvelope } from "../wasm/envelope.ts";
import { decodeFrame, encodeFrame } from "../wasm/frame.ts";
import { WSEEncryptionError, WSEProtocolError } from "./errors.ts";

/** Outgoing JSON larger than this is sent zlib-compressed (`C:`), bytes. */
export const COMPRESSION_THRESHOLD = 1024;

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Decodes standard base64; throws `WSEEncryptionError` on garbage. */
export function fromBase64(text: string): Uint8Array {
  try {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch (error) {
    throw new WSEEncryptionError("server public key is not valid base64", { cause: error });
  }
}

/**
 * Bytes `text` takes as UTF-8 (what `TextEncoder` would produce, a lone surrogate counting as
 * the 3-byte U+FFFD), counted in JavaScript without encoding it.
 */
export function countUtf8Bytes(text: string): number {
  const length = text.length;
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else {
      bytes += 2;
      // A high surrogate followed by a low one is one 4-byte character: skip the low unit.
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) i++;
      }
    }
  }
  return bytes;
}

const NON_ASCII = /[^\x00-\x7f]/;
/** The runtime's native byte counter where there is one (Bun, Deno and Node have a global `Buffer`). */
const NativeBuffer = (globalThis as { Buffer?: { byteLength(text: string, encoding: "utf8"): number } }).Buffer;

/**
 * Bytes `text` takes as UTF-8, without encoding it: `Buffer.byteLength` where the runtime has
 * it, otherwise the string length for pure ASCII (one native regex test) or `countUtf8Bytes`.
 */
export function utf8Length(text: string): number {
  if (NativeBuffer) return NativeBuffer.byteLength(text, "utf8");
  return NON_ASCII.test(text) ? countUtf8Bytes(text) : text.length;
}

/** Byte length of a frame as sent or received. */
export function frameSize(frame: string | ArrayBuffer | Uint8Array): number {
  if (typeof frame === "string") return utf8Length(frame);
  return frame.byteLength;
}

/** Per-connection encoder/decoder: holds the key pair and the session key. */
export class Wire {
  readonly codec: Codec;
  readonly maxSize: number;
  #keyPair?: EcdhKeyPair;
  #key?: SessionKey;
  /** Frames that failed to decrypt. */
  decryptFailures = 0;

  /** Creates a wire over `codec`; `maxSize` caps decompressed bodies. */
  constructor(codec: Codec, maxSize = 1024 * 1024) {
    this.codec = codec;
    this.maxSize = maxSize;
  }

  /** True once a session key exists. */
  get encrypted(): boolean {
    return this.#key !== undefined;
  }

  /** Makes this connection's ephemeral key pair and returns its public key, base64. */
  startKeyExchange(): string {
    try {
      this.#keyPair = this.codec.generateKeyPair();
    } catch (error) {
      throw new WSEEncryptionError(`cannot generate a P-256 key pair: ${(error as Error).message}`, { cause: error });
    }
    return toBase64(this.#keyPair.publicKey);
  }

  /** Derives the session key from the server's base64 public key. */
  completeKeyExchange(serverPublicKey: string): void {
    if (!this.#keyPair) throw new WSEEncryptionError("key exchange was not started");
    try {
      this.#key = this.#keyPair.deriveKey(fromBase64(serverPublicKey));
    } catch (error) {
      if (error instanceof WSEEncryptionError) throw error;
      throw new WSEEncryptionError(`key exchange failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Encodes an envelope: JSON text; `C:` above the threshold; once encrypted, `E:` around the
   * JSON text (never around compressed bytes, which WSE 2.x peers cannot read).
   */
  encode(env: Envelope, options: { plaintext?: boolean } = {}): string | Uint8Array {
    const json = envelopeToJson(env);
    const key = options.plaintext ? undefined : this.#key;
    const compression = !key && json.length > COMPRESSION_THRESHOLD ? "zlib" : "none";
    return encodeFrame(json, this.codec, { compression, key });
  }

  /**
   * Decodes one frame into an envelope. Throws `WSEEncryptionError` for a frame that fails to
   * decrypt and `WSEProtocolError` for anything else undecodable.
   */
  decode(frame: string | ArrayBuffer | Uint8Array): Envelope {
    try {
      const decoded = decodeFrame(frame, this.codec, { key: this.#key, maxSize: this.maxSize });
      return parseEnvelope(decoded);
    } catch (error) {
      if (error instanceof CodecError && error.code === "DECRYPT_FAILED") {
        this.decryptFailures++;
        throw new WSEEncryptionError(`frame failed to decrypt: ${error.message}`, { code: error.code, cause: error });
      }
      const code = error instanceof CodecError || error instanceof EnvelopeError ? error.code : "INVALID_MESSAGE";
      throw new WSEProtocolError(`undecodable frame: ${(error as Error).message}`, { code, cause: error });
    }
  }
}
