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

/**
 * Inflates zlib bodies, remembering the result for recent distinct inputs: a fan-out delivers
 * the same compressed frame to every subscriber, so all but the first copy are an exact byte
 * comparison (native) instead of a decompression. Inflating is a pure function of its input, so
 * the result is the same as inflating every copy. Inputs are found by length and the stream's
 * Adler-32 trailer and then compared in full; the oldest are forgotten beyond `capacity`.
 */
export class InflateMemo {
  readonly #entries = new Map<number, { key: Buffer; json: Uint8Array }[]>();
  #size = 0;
  /** Decompressions done (misses). */
  inflated = 0;
  /** Frames answered from memory (hits). */
  reused = 0;

  /** Remembers up to `capacity` distinct inputs (default 4,096). */
  constructor(readonly capacity = 4096) {}

  /** The inflated bytes of `body` (zlib stream); throws like `inflateSync` on bad input. */
  inflate(body: Uint8Array): Uint8Array {
    const view = Buffer.from(body.buffer, body.byteOffset, body.length);
    const n = view.length;
    const trailer = n >= 4 ? view.readUInt32BE(n - 4) : 0;
    const id = n * 4294967296 + trailer;
    const bucket = this.#entries.get(id);
    if (bucket) {
      for (const entry of bucket) {
        if (entry.key.equals(view)) {
          this.reused++;
          return entry.json;
        }
      }
    }
    const json = inflateSync(view);
    this.inflated++;
    const entry = { key: Buffer.from(view), json };
    if (bucket) bucket.push(entry);
    else this.#entries.set(id, [entry]);
    if (++this.#size > this.capacity) {
      const oldest = this.#entries.keys().next().value!;
      this.#size -= this.#entries.get(oldest)!.length;
      this.#entries.delete(oldest);
    }
    return json;
  }
}

/** Why a frame could not be turned into JSON. */
export class WireError extends Error {}

/**
 * Returns the JSON bytes inside a frame. Text frames pass through; binary frames lose their
 * `E:` (needs `key`), `C:` and legacy prefixes. Throws `WireError` for msgpack or garbage.
 * With `memo`, zlib bodies identical to a recent one reuse its inflated bytes (read-only).
 */
export function frameToJson(opcode: number, payload: Uint8Array, key?: BenchKey, memo?: InflateMemo): Uint8Array {
  let bytes = payload;
  if (opcode === 2) {
    if (bytes.length >= 2 && bytes[0] === 0x45 && bytes[1] === 0x3a) {
      if (!key) throw new WireError("E: frame before the key exchange");
      bytes = decrypt(key, bytes.subarray(2));
    }
    if (bytes.length >= 2 && bytes[0] === 0x43 && bytes[1] === 0x3a) bytes = memo ? memo.inflate(bytes.subarray(2)) : inflateSync(bytes.subarray(2));
    else if (bytes.length >= 1 && bytes[0] === 0x78) bytes = memo ? memo.inflate(bytes) : inflateSync(bytes);
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

/**
 * Result slots of `scanStamp`, reused by every call (no allocation per frame): valid until the
 * next call. The topic is given as a byte range of the scanned buffer.
 */
export const stamp = {
  /** First byte of the `tp` value (inside the quotes). */
  topicStart: 0,
  /** One past the last byte of the `tp` value. */
  topicEnd: 0,
  /** Stamp `o`. */
  offset: 0,
  /** Bench payload sequence number `p.n`. */
  n: 0,
  /** Bench payload publish time `p.ts0`, epoch ms (NaN when absent). */
  ts0: Number.NaN,
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const E_KEY = utf8Encoder.encode(',"e":"');
const O_KEY = utf8Encoder.encode(',"o":');
const P_KEY = utf8Encoder.encode(',"p":{"pad":"');
const N_KEY = utf8Encoder.encode(',"n":');
const TS0_KEY = utf8Encoder.encode(',"ts0":');
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** True when `key` is at `bytes[at]` (caller keeps `at + key.length <= end`). */
function keyAt(bytes: Uint8Array, at: number, key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key[i]) return false;
  return true;
}

/** Index of the quote closing a string whose content starts at `at`, or -1 (also for escapes). */
function plainStringEnd(bytes: Uint8Array, at: number, end: number): number {
  let b = 0;
  for (let i = at; i < end; i++) {
    if ((b = bytes[i]!) === QUOTE) return i;
    if (b === BACKSLASH) return -1;
  }
  return -1;
}

/** Where the last `readNumber` stopped. */
let numberEnd = 0;

/**
 * Reads a JSON number (no exponent) at `at`, not past `end`, and leaves `numberEnd` after it;
 * NaN when there is none. Integer and fraction digits are accumulated as integers.
 */
function readNumber(bytes: Uint8Array, at: number, end: number): number {
  let i = at;
  let negative = false;
  if (i < end && bytes[i] === 0x2d) {
    negative = true;
    i++;
  }
  const start = i;
  let value = 0;
  let digit = 0;
  while (i < end && (digit = bytes[i]! - 0x30) >= 0 && digit <= 9) {
    value = value * 10 + digit;
    i++;
  }
  if (i === start) return Number.NaN;
  if (i < end && bytes[i] === 0x2e) {
    i++;
    const fractionStart = i;
    let fraction = 0;
    while (i < end && (digit = bytes[i]! - 0x30) >= 0 && digit <= 9) {
      fraction = fraction * 10 + digit;
      i++;
    }
    const digits = i - fractionStart;
    if (digits === 0 || digits >= POWERS_OF_TEN.length) return Number.NaN;
    value += fraction / POWERS_OF_TEN[digits]!;
  }
  if (i < end && (bytes[i] === 0x65 || bytes[i] === 0x45)) return Number.NaN;
  numberEnd = i;
  return negative ? -value : value;
}

/**
 * Where the JSON object of a frame's bytes starts, skipping a legacy prefix (`WSE{`, `S{`, `U{`);
 * `start` itself when there is none.
 */
export function jsonStart(bytes: Uint8Array, start: number, end: number): number {
  const b0 = bytes[start];
  if (b0 === 0x7b || end - start < 2) return start;
  if (b0 === 0x57 && end - start >= 4 && bytes[start + 1] === 0x53 && bytes[start + 2] === 0x45 && bytes[start + 3] === 0x7b) return start + 3;
  if ((b0 === 0x53 || b0 === 0x55) && bytes[start + 1] === 0x7b) return start + 1;
  return start;
}

/**
 * Reads a publication's stamp and bench fields from the JSON object in `bytes[start, end)`
 * without allocating, into `stamp`. Returns true only for exactly the shape every system here
 * sends, where each value it reads is certainly the one `JSON.parse` would give:
 * `{"tp":"T","e":"E","o":O,` … `,"p":{"pad":"P","n":N,"ts0":S}}` with `T`, `E`, `P` free of
 * escapes, numbers without exponents and nothing after the payload. False means "not
 * recognised": the caller falls back to `parsePublication`, so an unexpected shape costs time,
 * never correctness.
 */
export function scanStamp(bytes: Uint8Array, start: number, end: number): boolean {
  if (
    end - start < 40 ||
    bytes[start] !== 0x7b ||
    bytes[start + 1] !== QUOTE ||
    bytes[start + 2] !== 0x74 ||
    bytes[start + 3] !== 0x70 ||
    bytes[start + 4] !== QUOTE ||
    bytes[start + 5] !== 0x3a ||
    bytes[start + 6] !== QUOTE ||
    bytes[end - 1] !== 0x7d ||
    bytes[end - 2] !== 0x7d
  ) {
    return false;
  }
  const topicStart = start + 7;
  const topicEnd = plainStringEnd(bytes, topicStart, end);
  if (topicEnd < 0 || topicEnd + E_KEY.length + 1 > end || !keyAt(bytes, topicEnd + 1, E_KEY)) return false;
  const epochEnd = plainStringEnd(bytes, topicEnd + 1 + E_KEY.length, end);
  if (epochEnd < 0 || epochEnd + 1 + O_KEY.length > end || !keyAt(bytes, epochEnd + 1, O_KEY)) return false;
  const offset = readNumber(bytes, epochEnd + 1 + O_KEY.length, end);
  if (offset !== offset || bytes[numberEnd] !== COMMA) return false;
  // the payload member: `,"p":{"pad":"` cannot occur inside a string (its first quote follows a
  // comma); found through its brace (native search), usually the first one after the stamp
  let padStart = -1;
  for (let brace = bytes.indexOf(0x7b, numberEnd); brace >= 0 && brace + P_KEY.length - 5 <= end; brace = bytes.indexOf(0x7b, brace + 1)) {
    if (keyAt(bytes, brace - 5, P_KEY)) {
      padStart = brace - 5 + P_KEY.length;
      break;
    }
  }
  if (padStart < 0) return false;
  const padEnd = bytes.indexOf(QUOTE, padStart);
  if (padEnd < 0 || padEnd + 1 + N_KEY.length > end || bytes[padEnd - 1] === BACKSLASH || !keyAt(bytes, padEnd + 1, N_KEY)) return false;
  const n = readNumber(bytes, padEnd + 1 + N_KEY.length, end);
  if (n !== n || numberEnd + TS0_KEY.length > end || !keyAt(bytes, numberEnd, TS0_KEY)) return false;
  const ts0 = readNumber(bytes, numberEnd + TS0_KEY.length, end);
  if (ts0 !== ts0 || numberEnd !== end - 2) return false;
  stamp.topicStart = topicStart;
  stamp.topicEnd = topicEnd;
  stamp.offset = offset;
  stamp.n = n;
  stamp.ts0 = ts0;
  return true;
}

/** True when `bytes[start, end)` equals `expected`. */
export function bytesEqual(bytes: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[start + i] !== expected[i]) return false;
  return true;
}

/**
 * Reads the stamp and bench fields of a publication's JSON bytes: `scanStamp` when the frame
 * has the usual shape, `JSON.parse` otherwise. Returns null for frames that are not JSON objects.
 */
export function scanPublication(json: Uint8Array): ScannedPublication | null {
  if (json[0] !== 0x7b) return null;
  if (scanStamp(json, 0, json.length)) {
    return { topic: utf8Decoder.decode(json.subarray(stamp.topicStart, stamp.topicEnd)), offset: stamp.offset, n: stamp.n, ts0: stamp.ts0 };
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
  return publicationOf(envelope);
}

/** The stamp and bench fields of an already parsed envelope (absent ones as in `ScannedPublication`). */
export function publicationOf(envelope: Record<string, unknown>): ScannedPublication {
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
