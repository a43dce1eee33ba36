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

/** Byte length of a frame as sent or received. */
export function frameSize(frame: string | ArrayBuffer | Uint8Array): number {
  if (typeof frame === "string") return new TextEncoder().encode(frame).length;
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
