/**
 * Outbound messages, encoded once per wire variant. A publication fanned out to thousands of
 * connections is serialized once as JSON, compressed once per compression in use (`C:` zlib
 * for plain clients, `Z:` zstd for clients that negotiated it) when above the threshold, and
 * msgpack-encoded once for `format=msgpack` clients. Encrypted connections wrap the frame of
 * their variant in `E:` individually.
 *
 * @module
 */
import { encode as msgpackEncode } from "@msgpack/msgpack";
import type { Codec, SessionKey } from "../../wasm/api.ts";
import { PREFIX, withPrefix } from "../../wasm/frame.ts";
import { encryptWithPrefix } from "../../wasm/native.ts";
import { categoryOf } from "../../wasm/envelope.ts";
import type { Publication } from "../broker/types.ts";

/** The wire variants: JSON text (or `C:` above the threshold), JSON with `Z:` above it, `M:` msgpack. */
export const Variant = { JSON: 0, ZSTD: 1, MSGPACK: 2 } as const;
/** A wire variant. */
export type Variant = (typeof Variant)[keyof typeof Variant];
/** Every variant, for iteration. */
export const VARIANTS: readonly Variant[] = [Variant.JSON, Variant.ZSTD, Variant.MSGPACK];

const utf8 = new TextEncoder();

/** Encoding settings shared by all outbound messages of one engine. */
export interface EncodeContext {
  /** Compression and encryption backend. */
  codec: Codec;
  /** JSON longer than this (bytes, approximated by UTF-16 length) is compressed. */
  compressionThreshold: number;
}

/** An envelope object in canonical key order (stamp, c, t, id, ts, v, pri, cid, p). */
export type EnvelopeObject = Record<string, unknown>;

/** One message, lazily encoded per variant and cached. */
export class Outbound {
  readonly #ctx: EncodeContext;
  #envelope: EnvelopeObject | undefined;
  /** Set instead of the envelope by `Outbound.publication` (the object is built only if asked for). */
  #publication: Publication | undefined;
  #json: string | undefined;
  #jsonBytes: Uint8Array | undefined;
  readonly #frames: Array<string | Uint8Array | undefined> = [undefined, undefined, undefined];

  /**
   * Wraps an envelope object already in canonical key order. `payloadJson`, when given, is the
   * serialized `p` (last key), so the payload is not serialized a second time.
   */
  constructor(ctx: EncodeContext, envelope: EnvelopeObject, payloadJson?: string) {
    this.#ctx = ctx;
    this.#envelope = envelope;
    if (payloadJson !== undefined) this.#json = jsonWithPayload(envelope, payloadJson);
  }

  /**
   * A stamped publication (`publicationEnvelope`). With `payloadJson` (the serialized payload)
   * the JSON text is assembled from cached per-topic parts without building the envelope object.
   */
  static publication(ctx: EncodeContext, publication: Publication, payloadJson?: string): Outbound {
    if (payloadJson === undefined) return new Outbound(ctx, publicationEnvelope(publication));
    const out = new Outbound(ctx, NO_ENVELOPE);
    out.#envelope = undefined;
    out.#publication = publication;
    out.#json = publicationJson(publication, payloadJson);
    return out;
  }

  /** The envelope object. */
  get envelope(): EnvelopeObject {
    return (this.#envelope ??= publicationEnvelope(this.#publication!));
  }

  /** The JSON text of the envelope. */
  json(): string {
    return (this.#json ??= JSON.stringify(this.envelope));
  }

  /** The frame for a variant: a string (text frame) or prefixed bytes (binary frame). */
  frame(variant: Variant): string | Uint8Array {
    const cached = this.#frames[variant];
    if (cached !== undefined) return cached;
    let frame: string | Uint8Array;
    if (variant === Variant.MSGPACK) {
      frame = withPrefix(PREFIX.msgpack, msgpackEncode(this.envelope));
    } else {
      const json = this.json();
      if (json.length <= this.#ctx.compressionThreshold) {
        frame = json;
      } else if (variant === Variant.ZSTD) {
        frame = withPrefix(PREFIX.zstd, this.#ctx.codec.zstdCompress(utf8.encode(json)));
      } else {
        frame = withPrefix(PREFIX.zlib, this.#ctx.codec.zlibCompress(utf8.encode(json)));
      }
    }
    this.#frames[variant] = frame;
    return frame;
  }

  /**
   * The message wrapped in `E:` with a fresh IV (never cached). The plaintext is always the JSON
   * text, whatever the variant: 2.x clients decode decrypted bytes as UTF-8 JSON and cannot read
   * `E:C:`, `E:Z:` or `E:M:` (docs/UPSTREAM-NOTES.md C.5).
   */
  encrypted(_variant: Variant, key: SessionKey): Uint8Array {
    return encryptWithPrefix(key, PREFIX.encrypted, (this.#jsonBytes ??= utf8.encode(this.json())));
  }
}

/** Builds the stamped envelope of a publication: `tp`, `e`, `o` first, then c, t, id, ts, v, pri, cid, p. */
export function publicationEnvelope(publication: Publication): EnvelopeObject {
  const d = publication.data;
  const env: EnvelopeObject = {
    tp: publication.topic,
    e: publication.epoch,
    o: publication.offset,
    c: d.category ?? categoryOf(d.type),
    t: d.type,
    id: d.id,
    ts: d.ts,
    v: 1,
  };
  if (d.priority !== undefined) env.pri = d.priority;
  if (d.correlationId !== undefined) env.cid = d.correlationId;
  env.p = d.payload;
  return env;
}

/**
 * The JSON text of `envelope` with `payloadJson` (already serialized) as its last key `p`: one
 * native stringify of everything else, then the payload text spliced in.
 */
function jsonWithPayload(envelope: EnvelopeObject, payloadJson: string): string {
  const head: Record<string, unknown> = {};
  for (const key in envelope) if (key !== "p") head[key] = envelope[key];
  const json = JSON.stringify(head);
  return json.length > 2 ? `${json.slice(0, -1)},"p":${payloadJson}}` : `{"p":${payloadJson}}`;
}

const NO_ENVELOPE: EnvelopeObject = Object.freeze({}) as EnvelopeObject;
const PART_CACHE_LIMIT = 4096;
/** Per topic: the epoch and the text up to the offset, `{"tp":<topic>,"e":<epoch>,"o":`. */
const stampHeads = new Map<string, { epoch: string; text: string }>();
/** Per type: its category and `,"c":<category>,"t":<type>,"id":`. */
const typeParts = new Map<string, { category: string; text: string }>();
let lastTs = "";
let lastTsJson = '""';

function stampHead(topic: string, epoch: string): string {
  const hit = stampHeads.get(topic);
  if (hit !== undefined && hit.epoch === epoch) return hit.text;
  if (hit === undefined && stampHeads.size >= PART_CACHE_LIMIT) stampHeads.clear();
  const text = `{"tp":${JSON.stringify(topic)},"e":${JSON.stringify(epoch)},"o":`;
  stampHeads.set(topic, { epoch, text });
  return text;
}

function typePart(category: string, type: string): string {
  const hit = typeParts.get(type);
  if (hit !== undefined && hit.category === category) return hit.text;
  if (hit === undefined && typeParts.size >= PART_CACHE_LIMIT) typeParts.clear();
  const text = `,"c":${JSON.stringify(category)},"t":${JSON.stringify(type)},"id":`;
  typeParts.set(type, { category, text });
  return text;
}

/** `JSON.stringify(ts)`, remembered for the last value (`isoNow` repeats within a millisecond). */
function tsJson(ts: string): string {
  if (ts !== lastTs) {
    lastTs = ts;
    lastTsJson = JSON.stringify(ts);
  }
  return lastTsJson;
}

/**
 * The JSON text of `publicationEnvelope(publication)` with `payloadJson` as `p`: the same text
 * `JSON.stringify` gives (same keys, order and escaping), built from cached per-topic and
 * per-type parts. Fields of unexpected types fall back to `JSON.stringify` of the envelope head.
 */
export function publicationJson(publication: Publication, payloadJson: string): string {
  const d = publication.data;
  const offset = publication.offset;
  if (
    typeof publication.topic !== "string" || typeof publication.epoch !== "string" || typeof d.type !== "string" || typeof d.id !== "string" ||
    typeof d.ts !== "string" || !Number.isSafeInteger(offset) || (d.category !== undefined && typeof d.category !== "string")
  ) {
    return jsonWithPayload(publicationEnvelope(publication), payloadJson);
  }
  let text = stampHead(publication.topic, publication.epoch) + offset + typePart(d.category ?? categoryOf(d.type), d.type) +
    JSON.stringify(d.id) + ',"ts":' + tsJson(d.ts) + ',"v":1';
  const pri = d.priority === undefined ? undefined : JSON.stringify(d.priority);
  if (pri !== undefined) text += ',"pri":' + pri;
  const cid = d.correlationId === undefined ? undefined : JSON.stringify(d.correlationId);
  if (cid !== undefined) text += ',"cid":' + cid;
  return text + ',"p":' + payloadJson + "}";
}

/** Builds an unstamped envelope (system or direct message) with the current time. */
export function messageEnvelope(
  type: string,
  payload: unknown,
  extra: { id?: string; category?: string; correlationId?: string; priority?: number; seq?: number } = {},
): EnvelopeObject {
  const env: EnvelopeObject = { c: extra.category ?? categoryOf(type), t: type };
  if (extra.id !== undefined) env.id = extra.id;
  env.ts = isoNow();
  if (extra.seq !== undefined) env.seq = extra.seq;
  env.v = 1;
  if (extra.priority !== undefined) env.pri = extra.priority;
  if (extra.correlationId !== undefined) env.cid = extra.correlationId;
  env.p = payload;
  return env;
}

let lastMs = 0;
let lastIso = "";

/** The current time as ISO-8601 with milliseconds, formatted at most once per millisecond. */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

/**
 * The encoded form of replayed publications, bounded by count and bytes: a reconnect storm
 * (many connections recovering the same range) encodes each replayed publication once per
 * variant instead of once per recovering connection. Keyed by (topic, epoch, offset), so it
 * works for brokers that return fresh objects from history. When full it starts over (cheaper
 * than LRU bookkeeping; a storm refills it at once).
 */
export class OutboundCache {
  readonly #ctx: EncodeContext;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, { out: Outbound; bytes: number }>();
  #bytes = 0;

  /** Keeps at most `maxEntries` publications and about `maxBytes` of their JSON (defaults 2048, 8 MiB). */
  constructor(ctx: EncodeContext, maxEntries = 2048, maxBytes = 8 * 1024 * 1024) {
    this.#ctx = ctx;
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** The cached `Outbound` of a publication, or a new one (cached). `payloadJson` as for `Outbound`. */
  get(publication: Publication, payloadJson?: string): Outbound {
    const key = `${publication.epoch}:${publication.offset}:${publication.topic}`;
    const hit = this.#entries.get(key);
    if (hit) return hit.out;
    const out = Outbound.publication(this.#ctx, publication, payloadJson);
    const bytes = out.json().length;
    if (bytes > this.#maxBytes / 4) return out; // too big to be worth keeping
    if (this.#entries.size >= this.#maxEntries || this.#bytes + bytes > this.#maxBytes) {
      this.#entries.clear();
      this.#bytes = 0;
    }
    this.#entries.set(key, { out, bytes });
    this.#bytes += bytes;
    return out;
  }

  /** Number of cached publications. */
  get size(): number {
    return this.#entries.size;
  }

  /** Approximate bytes held (JSON text length). */
  get bytes(): number {
    return this.#bytes;
  }
}
