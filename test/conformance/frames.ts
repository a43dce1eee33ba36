/**
 * Independent decoder and encoder for WSE frames (PROTOCOL.md §3, §6), written for the
 * conformance suite only. It deliberately does not import the project's codec: it uses
 * WebCrypto, `node:zlib`, Bun's zstd and `@msgpack/msgpack`, so the suite is a second opinion.
 *
 * @module
 */
import { deflateSync, inflateSync } from "node:zlib";
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";

/** How a frame arrived on the wire. `E` frames also record the inner encoding in `inner`. */
export type FrameKind = "text" | "json-binary" | "zlib-bare" | "C" | "Z" | "M" | "E";

/** A WSE envelope as decoded (keys are whatever the sender used). */
export type Envelope = Record<string, unknown> & {
  c?: string;
  t?: string;
  p?: Record<string, unknown>;
  id?: string;
  ts?: string;
  tp?: string;
  e?: string;
  o?: number;
};

/** One received frame, decoded. `envelope` is null and `error` set when decoding failed. */
export interface Frame {
  /** Wire form of the outer frame. */
  kind: FrameKind;
  /** For `E:` frames: the form of the decrypted plaintext. */
  inner?: FrameKind;
  /** The raw text, or the raw bytes of a binary frame. */
  raw: string | Uint8Array;
  /** The decoded envelope, or null when decoding failed. */
  envelope: Envelope | null;
  /** Why decoding failed, when it did. */
  error?: string;
  /** `Date.now()` when the frame arrived. */
  receivedAt: number;
}

const textDecoder = new TextDecoder("utf-8", { fatal: true });
const textEncoder = new TextEncoder();

function prefixOf(bytes: Uint8Array): string {
  return bytes.length >= 2 ? String.fromCharCode(bytes[0]!, bytes[1]!) : "";
}

/** Strips the legacy text prefixes `WSE{`, `S{`, `U{` a 2.x peer may put before the JSON. */
export function stripLegacyPrefix(text: string): string {
  for (const p of ["WSE{", "S{", "U{"]) if (text.startsWith(p)) return text.slice(p.length - 1);
  return text;
}

function parseJsonEnvelope(text: string): Envelope {
  const value = JSON.parse(stripLegacyPrefix(text));
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("envelope is not a JSON object");
  return value as Envelope;
}

/** Decrypts an `E:` body (12-byte IV ‖ ciphertext ‖ 16-byte tag, no AAD) with an AES-GCM key. */
export async function decryptBody(key: CryptoKey, body: Uint8Array): Promise<Uint8Array> {
  if (body.length < 12 + 16) throw new Error(`E: body too short (${body.length} bytes)`);
  const iv = body.subarray(0, 12);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: iv as BufferSource }, key, body.subarray(12) as BufferSource);
  return new Uint8Array(plain);
}

/** Encrypts bytes into an `E:` frame with a fresh random 96-bit IV. */
export async function encryptFrame(key: CryptoKey, plaintext: Uint8Array): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plaintext as BufferSource));
  const out = new Uint8Array(2 + 12 + sealed.length);
  out.set(textEncoder.encode("E:"), 0);
  out.set(iv, 2);
  out.set(sealed, 14);
  return out;
}

/** Decodes the bytes of a binary frame (or an `E:` plaintext) that is not itself encrypted. */
export function decodePlainBinary(bytes: Uint8Array): { kind: FrameKind; envelope: Envelope } {
  const prefix = prefixOf(bytes);
  const body = bytes.subarray(2);
  if (prefix === "C:") return { kind: "C", envelope: parseJsonEnvelope(textDecoder.decode(inflateSync(body))) };
  if (prefix === "Z:") return { kind: "Z", envelope: parseJsonEnvelope(textDecoder.decode(Bun.zstdDecompressSync(body))) };
  if (prefix === "M:") {
    const value = msgpackDecode(body);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("M: body is not a map");
    return { kind: "M", envelope: value as Envelope };
  }
  if (bytes[0] === 0x78) return { kind: "zlib-bare", envelope: parseJsonEnvelope(textDecoder.decode(inflateSync(bytes))) };
  return { kind: "json-binary", envelope: parseJsonEnvelope(textDecoder.decode(bytes)) };
}

/**
 * Decodes one received WebSocket message into a {@link Frame}. `key` is the session's AES-GCM
 * key, needed for `E:` frames. Never throws: failures are reported in `Frame.error`.
 */
export async function decodeFrame(data: string | ArrayBuffer | Uint8Array, key: CryptoKey | null): Promise<Frame> {
  const receivedAt = Date.now();
  if (typeof data === "string") {
    try {
      return { kind: "text", raw: data, envelope: parseJsonEnvelope(data), receivedAt };
    } catch (err) {
      return { kind: "text", raw: data, envelope: null, error: String(err), receivedAt };
    }
  }
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (prefixOf(bytes) === "E:") {
    if (!key) return { kind: "E", raw: bytes, envelope: null, error: "E: frame but no key negotiated", receivedAt };
    try {
      const plain = await decryptBody(key, bytes.subarray(2));
      if (plain[0] === 0x7b /* { */) {
        return { kind: "E", inner: "text", raw: bytes, envelope: parseJsonEnvelope(textDecoder.decode(plain)), receivedAt };
      }
      const inner = decodePlainBinary(plain);
      return { kind: "E", inner: inner.kind, raw: bytes, envelope: inner.envelope, receivedAt };
    } catch (err) {
      return { kind: "E", raw: bytes, envelope: null, error: String(err), receivedAt };
    }
  }
  try {
    const decoded = decodePlainBinary(bytes);
    return { kind: decoded.kind, raw: bytes, envelope: decoded.envelope, receivedAt };
  } catch (err) {
    return { kind: "json-binary", raw: bytes, envelope: null, error: String(err), receivedAt };
  }
}

/** Encodes an envelope as a `C:` frame (zlib). */
export function encodeZlibFrame(envelope: unknown): Uint8Array {
  return withPrefix("C:", deflateSync(textEncoder.encode(JSON.stringify(envelope))));
}

/** Encodes an envelope as an `M:` frame (msgpack). */
export function encodeMsgpackFrame(envelope: unknown): Uint8Array {
  return withPrefix("M:", msgpackEncode(envelope, { maxDepth: 10_000 }));
}

/** Returns `prefix` (2 ASCII chars) followed by `body`. */
export function withPrefix(prefix: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + body.length);
  out.set(textEncoder.encode(prefix), 0);
  out.set(body, 2);
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

/** The client side of the §6 key exchange: an ECDH P-256 key pair and the key derivation. */
export class KeyExchange {
  private constructor(
    private readonly pair: CryptoKeyPair,
    /** Standard base64 (with padding) of the 65-byte uncompressed public point. */
    readonly publicKeyBase64: string,
  ) {}

  /** Creates a fresh key pair. */
  static async create(): Promise<KeyExchange> {
    const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return new KeyExchange(pair, Buffer.from(raw).toString("base64"));
  }

  /** Derives the AES-256-GCM key from the server's base64 public key (HKDF-SHA256, zero salt). */
  async derive(serverPublicKeyBase64: string): Promise<CryptoKey> {
    const serverRaw = new Uint8Array(Buffer.from(serverPublicKeyBase64, "base64"));
    if (serverRaw.length !== 65 || serverRaw[0] !== 0x04) {
      throw new Error(`server public key is not a 65-byte uncompressed P-256 point (${serverRaw.length} bytes)`);
    }
    const serverKey = await crypto.subtle.importKey("raw", serverRaw, { name: "ECDH", namedCurve: "P-256" }, false, []);
    const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: serverKey }, this.pair.privateKey, 256);
    const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: utf8("wse-encryption/aes-gcm-key") as BufferSource },
      hkdf,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  }
}
