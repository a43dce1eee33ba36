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
 * scanPublication(bytes); // { topic: "a", offset: 7, n: 7, ts0: 1.5, type: "x" }
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
  /** Envelope type `t`. */
  type: string;
}

const KEY_TP = utf8Encoder.encode('"tp":"');
const KEY_O = utf8Encoder.encode('"o":');
const KEY_N = utf8Encoder.encode('"n":');
const KEY_TS0 = utf8Encoder.encode('"ts0":');
const KEY_T = utf8Encoder.encode('"t":"');

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

function readString(bytes: Uint8Array, at: number): string | null {
  const end = bytes.indexOf(0x22, at);
  if (end < 0) return null;
  const raw = bytes.subarray(at, end);
  if (raw.includes(0x5c)) return null;
  return utf8Decoder.decode(raw);
}

const topicCache = new Map<string, string>();

/**
 * Reads the stamp and bench fields of a publication's JSON bytes. The fast path expects the
 * canonical order (stamp first, bench payload `{"n":…,"ts0":…}` last); when a field is not
 * where a canonical envelope has it, the whole envelope is parsed instead. Returns null for
 * frames that are not JSON objects.
 */
export function scanPublication(json: Uint8Array): ScannedPublication | null {
  if (json[0] !== 0x7b) return null;
  const tpAt = json.length > 6 && json[1] === 0x22 && json[2] === 0x74 && json[3] === 0x70 ? 1 : -1;
  if (tpAt === 1) {
    const topicRaw = readString(json, 1 + KEY_TP.length);
    const oAt = indexOfBytes(json, KEY_O, 1);
    const tAt = indexOfBytes(json, KEY_T, 1);
    const nAt = indexOfBytes(json, KEY_N, 1);
    const tsAt = indexOfBytes(json, KEY_TS0, 1);
    if (topicRaw !== null && oAt > 0 && tAt > 0 && nAt > 0 && tsAt > 0) {
      const topic = topicCache.get(topicRaw) ?? (topicCache.set(topicRaw, topicRaw), topicRaw);
      const offset = readNumber(json, oAt + KEY_O.length);
      const n = readNumber(json, nAt + KEY_N.length);
      const ts0 = readNumber(json, tsAt + KEY_TS0.length);
      const type = readString(json, tAt + KEY_T.length);
      if (!Number.isNaN(offset) && !Number.isNaN(n) && type !== null) return { topic, offset, n, ts0, type };
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
    type: String(envelope.t ?? envelope.type ?? ""),
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
  return performance.timeOrigin + performance.now();
}

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
