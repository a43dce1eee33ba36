/**
 * WebSocket frame layer of the WSE protocol (PROTOCOL.md §3): the 2-byte binary prefixes
 * `C:` (zlib), `Z:` (zstd), `M:` (msgpack), `E:` (AES-GCM), bare zlib, JSON in a binary frame,
 * and the legacy text prefixes `WSE{`, `S{`, `U{`. Works on any `Codec` backend.
 *
 * @example
 * ```ts
 * import { decodeFrame, encodeFrame } from "./frame.ts";
 * import { nativeCodec } from "./native.ts";
 * const wire = encodeFrame('{"t":"hi","p":{}}', nativeCodec, { compression: "zlib" });
 * decodeFrame(wire, nativeCodec).text; // '{"t":"hi","p":{}}'
 * ```
 * @module
 */
import { type Codec, CodecError, type DecodedFrame, type DecodeOptions, type EncodeOptions } from "./api.ts";

/** Default cap on a decompressed frame body: 1 MiB. */
export const DEFAULT_MAX_FRAME_BODY = 1024 * 1024;

const COLON = 0x3a;
const PREFIX_C = 0x43;
const PREFIX_Z = 0x5a;
const PREFIX_M = 0x4d;
const PREFIX_E = 0x45;
const ZLIB_HEADER = 0x78;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The 2-byte binary prefixes, as bytes. */
export const PREFIX = {
  zlib: utf8.encode("C:"),
  zstd: utf8.encode("Z:"),
  msgpack: utf8.encode("M:"),
  encrypted: utf8.encode("E:"),
} as const;

/** Removes a legacy `WSE{` / `S{` / `U{` text prefix, keeping the opening brace. */
export function stripLegacyPrefix(text: string): string {
  if (text.startsWith("WSE{")) return text.slice(3);
  if (text.startsWith("S{") || text.startsWith("U{")) return text.slice(1);
  return text;
}

function decodeText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CodecError("BAD_FRAME", "frame body is not valid UTF-8");
  }
}

function isMsgpackMap(first: number): boolean {
  return (first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf;
}

/** Whether a binary body starts with a JSON object (after optional whitespace) or a legacy prefix. */
function looksLikeJson(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length && i < 16; i++) {
    const b = bytes[i]!;
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    return b === 0x7b || b === 0x5b || b === 0x57 || b === 0x53 || b === 0x55;
  }
  return false;
}

function prefixOf(bytes: Uint8Array): number {
  return bytes.length >= 2 && bytes[1] === COLON ? bytes[0]! : 0;
}

function decodePlainBody(
  bytes: Uint8Array,
  codec: Codec,
  maxSize: number,
  encrypted: boolean,
): DecodedFrame {
  const prefix = prefixOf(bytes);
  if (prefix === PREFIX_C || prefix === PREFIX_Z) {
    const body = bytes.subarray(2);
    const inflated = prefix === PREFIX_C ? codec.zlibDecompress(body, maxSize) : codec.zstdDecompress(body, maxSize);
    const compression = prefix === PREFIX_C ? "zlib" : "zstd";
    if (inflated.length > 0 && (isMsgpackMap(inflated[0]!) || prefixOf(inflated) === PREFIX_M)) {
      const msgpack = prefixOf(inflated) === PREFIX_M ? inflated.subarray(2) : inflated;
      return { encrypted, compression, format: "msgpack", bytes: msgpack };
    }
    return { encrypted, compression, format: "json", text: stripLegacyPrefix(decodeText(inflated)) };
  }
  if (prefix === PREFIX_M) return { encrypted, compression: "none", format: "msgpack", bytes: bytes.subarray(2) };
  if (prefix === PREFIX_E) throw new CodecError("BAD_FRAME", "nested E: frame");
  if (bytes.length === 0) throw new CodecError("BAD_FRAME", "empty frame");
  if (bytes[0] === ZLIB_HEADER) {
    const text = decodeText(codec.zlibDecompress(bytes, maxSize));
    return { encrypted, compression: "zlib", format: "json", text: stripLegacyPrefix(text) };
  }
  if (looksLikeJson(bytes)) {
    if (bytes.length > maxSize) throw new CodecError("TOO_LARGE", `frame body exceeds ${maxSize} bytes`);
    return { encrypted, compression: "none", format: "json", text: stripLegacyPrefix(decodeText(bytes)) };
  }
  if (isMsgpackMap(bytes[0]!)) return { encrypted, compression: "none", format: "msgpack", bytes };
  throw new CodecError("BAD_FRAME", "unknown frame prefix");
}

/**
 * Decodes one WebSocket frame (text or binary) down to a JSON text or a msgpack body.
 * Throws `CodecError` for anything undecodable; never returns a partial result.
 */
export function decodeFrame(frame: string | Uint8Array | ArrayBuffer, codec: Codec, options: DecodeOptions = {}): DecodedFrame {
  const maxSize = options.maxSize ?? DEFAULT_MAX_FRAME_BODY;
  if (typeof frame === "string") {
    return { encrypted: false, compression: "none", format: "json", text: stripLegacyPrefix(frame) };
  }
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (prefixOf(bytes) === PREFIX_E) {
    if (!options.key) throw new CodecError("BAD_FRAME", "encrypted frame before key exchange");
    const plain = options.key.decrypt(bytes.subarray(2));
    return decodePlainBody(plain, codec, maxSize, true);
  }
  return decodePlainBody(bytes, codec, maxSize, false);
}

/** Concatenates a 2-byte prefix and a body. */
export function withPrefix(prefix: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/**
 * Encodes an envelope body for the wire. A JSON string with no compression and no key stays a
 * string (send it as a text frame); everything else becomes a prefixed binary frame. A msgpack
 * body (`Uint8Array`) gets `M:`; `compression` applies to JSON bodies only.
 */
export function encodeFrame(body: string | Uint8Array, codec: Codec, options: EncodeOptions = {}): string | Uint8Array {
  let plain: string | Uint8Array;
  if (typeof body === "string") {
    const compression = options.compression ?? "none";
    if (compression === "zlib") plain = withPrefix(PREFIX.zlib, codec.zlibCompress(utf8.encode(body)));
    else if (compression === "zstd") plain = withPrefix(PREFIX.zstd, codec.zstdCompress(utf8.encode(body)));
    else plain = body;
  } else {
    plain = withPrefix(PREFIX.msgpack, body);
  }
  if (!options.key) return plain;
  const inner = typeof plain === "string" ? utf8.encode(plain) : plain;
  return withPrefix(PREFIX.encrypted, options.key.encrypt(inner));
}
