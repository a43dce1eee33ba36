/**
 * The generator's view of WSE frames: turn any server frame (text, `C:` zlib, `E:` AES-GCM,
 * bare JSON in a binary frame) into JSON bytes, and read a publication's stamp (`tp`, `o`) and
 * the bench payload fields (`n` sequence, `ts0` publish time) by scanning bytes instead of
 * parsing the whole envelope. Anything the scanner does not recognise falls back to
 * `JSON.parse`, so an unexpected key order costs time, never correctness.
 *
 * @example
 * ```ts
 * import { scanPublication } from "./wse-wire.ts";
 * const bytes = new TextEncoder().encode('{"tp":"a","e":"0000beef","o":7,"c":"U","t":"x","p":{"n":7,"ts0":1.5}}');
 * scanPublication(bytes); // { topic: "a", offset: 7, n: 7, ts0: 1.5 }
 * ```
 * @module
 */
import { createDecipheriv, createECDH, hkdfSync } from "node:crypto";
import { inflateSync } from "node:zlib";

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** A session key for `E:` frames (AES-256-GCM, IV ‖ ciphertext ‖ tag). */
export interface BenchKey {
  /** The raw 32-byte AES key. */
  raw: Uint8Array;
}

/** Client side of the WSE key exchange (PROTOCOL.md §6). */
export class BenchKeyExchange {
  readonly #ecdh = createECDH("prime256v1");
  /** Standard base64 of the 65-byte uncompressed public point, for `client_hello`. */
  readonly publicKeyBase64: string;

  /** Creates a fresh P-256 key pair. */
  constructor() {
    this.publicKeyBase64 = Buffer.from(this.#ecdh.generateKeys()).toString("base64");
  }

  /** Derives the session key from the server's base64 public key. */
  derive(serverPublicKeyBase64: string): BenchKey {
    const secret = this.#ecdh.computeSecret(Buffer.from(serverPublicKeyBase64, "base64"));
    const raw = new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(32), "wse-encryption/aes-gcm-key", 32));
    return { raw };
  }
}

function decrypt(key: BenchKey, body: Uint8Array): Uint8Array {
  const decipher = createDecipheriv("aes-256-gcm", key.raw, body.subarray(0, 12));
  decipher.setAuthTag(body.subarray(body.length - 16));
  const head = decipher.update(body.subarray(12, body.length - 16));
  const tail = decipher.final();
  if (tail.length === 0) return head;
  return Buffer.concat([head, tail]);
}

/** Why a frame could not be turned into JSON. */
export class WireError extends Error {}

/**
 * Returns the JSON bytes inside a frame. Text frames pass through; binary frames lose their
 * `E:` (needs `key`), `C:` and legacy prefixes. Throws `WireError` for msgpack or garbage.
 */
export function frameToJson(opcode: number, payload: Uint8Array, key?: BenchKey): Uint8Array {
  let bytes = payload;
  if (opcode === 2) {
    if (bytes.length >= 2 && bytes[0] === 0x45 && bytes[1] === 0x3a) {
      if (!key) throw new WireError("E: frame before the key exchange");
      bytes = decrypt(key, bytes.subarray(2));
    }
    if (bytes.length >= 2 && bytes[0] === 0x43 && bytes[1] === 0x3a) bytes = inflateSync(bytes.subarray(2));
    else if (bytes.length >= 1 && bytes[0] === 0x78) bytes = inflateSync(bytes);
    else if (bytes.length >= 2 && bytes[1] === 0x3a) throw new WireError(`unsupported prefix ${String.fromCharCode(bytes[0]!)}:`);
  }
  return stripLegacy(bytes);
}

function stripLegacy(bytes: Uint8Array): Uint8Array {
  if (bytes[0] === 0x7b) return bytes;
  if (bytes[0] === 0x57 && bytes[1] === 0x53 && bytes[2] === 0x45 && bytes[3] === 0x7b) return bytes.subarray(3);
  if ((bytes[0] === 0x53 || bytes[0] === 0x55) && bytes[1] === 0x7b) return bytes.subarray(1);
  return bytes;
}

/** What the generator needs from one publication. */
export interface ScannedPublication {
  /** Stamp `tp` (null when the frame has no stamp). */
  topic: string | null;
  /** Stamp `o` (-1 when absent). */
  offset: number;
  /** Bench payload sequence number `p.n` (-1 when absent). */
  n: number;
  /** Bench payload publish time `p.ts0`, epoch ms (NaN when absent). */
  ts0: number;
}

const KEY_O = utf8Encoder.encode('"o":');
const KEY_N = utf8Encoder.encode('"n":');
const KEY_TS0 = utf8Encoder.encode('"ts0":');

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Last occurrence of `needle` starting at or before `from`. */
function lastIndexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  outer: for (let i = Math.min(from, haystack.length - needle.length); i >= 0; i--) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Reads a JSON number (no exponent) at `at`; NaN when there is none. */
function readNumber(bytes: Uint8Array, at: number): number {
  let value = 0;
  let i = at;
  let negative = false;
  if (bytes[i] === 0x2d) {
    negative = true;
    i++;
  }
  const start = i;
  while (i < bytes.length && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) value = value * 10 + (bytes[i++]! - 0x30);
  if (i === start) return NaN;
  if (bytes[i] === 0x2e) {
    let scale = 0.1;
    i++;
    while (i < bytes.length && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) {
      value += (bytes[i++]! - 0x30) * scale;
      scale /= 10;
    }
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) return NaN;
  return negative ? -value : value;
}

interface CachedTopic {
  bytes: Uint8Array;
  name: string;
}
const topicCache = new Map<number, CachedTopic>();

/** The topic string for raw bytes, decoded once per distinct topic (FNV-1a keyed cache). */
function topicOf(raw: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < raw.length; i++) hash = Math.imul(hash ^ raw[i]!, 0x01000193);
  const cached = topicCache.get(hash);
  if (cached && cached.bytes.length === raw.length && cached.bytes.every((b, i) => b === raw[i])) return cached.name;
  const name = utf8Decoder.decode(raw);
  topicCache.set(hash, { bytes: raw.slice(), name });
  return name;
}

/**
 * Reads the stamp and bench fields of a publication's JSON bytes. The fast path expects the
 * stamp first (`{"tp":"…","e":…,"o":N,…`) and the bench fields last in the payload
 * (`…"n":N,"ts0":T}}`), the shape every system here sends; anything else is parsed with
 * `JSON.parse`. Returns null for frames that are not JSON objects.
 */
export function scanPublication(json: Uint8Array): ScannedPublication | null {
  if (json[0] !== 0x7b) return null;
  if (json[1] === 0x22 && json[2] === 0x74 && json[3] === 0x70 && json[4] === 0x22 && json[5] === 0x3a && json[6] === 0x22) {
    const topicEnd = json.indexOf(0x22, 7);
    const raw = topicEnd > 0 ? json.subarray(7, topicEnd) : null;
    if (raw && !raw.includes(0x5c)) {
      const oAt = indexOfBytes(json, KEY_O, topicEnd);
      const tsAt = lastIndexOfBytes(json, KEY_TS0, json.length - 1);
      const nAt = tsAt > 0 ? lastIndexOfBytes(json, KEY_N, tsAt) : -1;
      if (oAt > 0 && nAt > oAt) {
        const offset = readNumber(json, oAt + KEY_O.length);
        const n = readNumber(json, nAt + KEY_N.length);
        const ts0 = readNumber(json, tsAt + KEY_TS0.length);
        if (!Number.isNaN(offset) && !Number.isNaN(n)) return { topic: topicOf(raw), offset, n, ts0 };
      }
    }
  }
  return parsePublication(json);
}

/** The slow path of `scanPublication`: a full `JSON.parse`. */
export function parsePublication(json: Uint8Array): ScannedPublication | null {
  let envelope: Record<string, unknown>;
  try {
    envelope = JSON.parse(utf8Decoder.decode(json)) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!envelope || typeof envelope !== "object") return null;
  const payload = (envelope.p ?? envelope.payload ?? {}) as Record<string, unknown>;
  return {
    topic: typeof envelope.tp === "string" ? envelope.tp : null,
    offset: typeof envelope.o === "number" ? envelope.o : -1,
    n: typeof payload.n === "number" ? payload.n : -1,
    ts0: typeof payload.ts0 === "number" ? payload.ts0 : NaN,
  };
}

/** Parses JSON bytes into an envelope object (system messages: handshake, replies). */
export function parseEnvelope(json: Uint8Array): Record<string, unknown> | null {
  try {
    const value = JSON.parse(utf8Decoder.decode(json));
    return value && typeof value === "object" ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Current wall-clock time in epoch milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return TIME_ORIGIN + performance.now();
}
const TIME_ORIGIN = performance.timeOrigin;

/**
 * A bench payload of about `size` bytes of JSON: `{"pad":"xxx…","n":N,"ts0":T}` with the
 * sequence number and publish time last (where the fast scanner looks for them).
 */
export function benchPayload(n: number, size: number): Record<string, unknown> {
  const padLength = Math.max(0, size - 50);
  return { pad: "x".repeat(padLength), n, ts0: nowMs() };
}

/** Bytes of a bench payload padding string, cached per size. */
export function padFor(size: number): string {
  return "x".repeat(Math.max(0, size - 50));
}
