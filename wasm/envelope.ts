/**
 * The WSE message envelope (PROTOCOL.md §3): parsing untrusted frames into a normalized
 * `Envelope` with size and depth limits, and serializing envelopes as JSON (canonical key
 * order: recovery stamp first, then `c`, `t`) or msgpack.
 *
 * @example
 * ```ts
 * import { envelopeToJson, parseEnvelope } from "./envelope.ts";
 * const env = parseEnvelope({ encrypted: false, compression: "none", format: "json", text: '{"type":"hi","payload":{}}' });
 * envelopeToJson({ c: "U", t: env.t, p: env.p }); // '{"c":"U","t":"hi","p":{}}'
 * ```
 * @module
 */
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";
import type { DecodedFrame } from "./api.ts";

/** Default maximum nesting depth of an inbound envelope. */
export const DEFAULT_MAX_DEPTH = 64;

/** A normalized envelope. `t` and `p` are always present after parsing. */
export interface Envelope {
  /** Recovery stamp: topic. */
  tp?: string;
  /** Recovery stamp: epoch (8 lowercase hex digits). */
  e?: string;
  /** Recovery stamp: offset. */
  o?: number;
  /** Category: `WSE` system, `S` snapshot, `U` user. */
  c?: string;
  /** Message type. */
  t: string;
  /** Message id. */
  id?: string;
  /** ISO-8601 timestamp. */
  ts?: string;
  /** Sequence number. */
  seq?: number;
  /** Protocol version (1). */
  v?: number;
  /** Priority: 10 critical, 8 high, 5 normal, 3 low, 1 background. */
  pri?: number;
  /** Correlation id. */
  cid?: string;
  /** Signature. */
  sig?: string;
  /** Payload object. */
  p: Record<string, unknown>;
}

/** Why an inbound envelope was rejected; the code is the protocol error code to send. */
export class EnvelopeError extends Error {
  /** `INVALID_MESSAGE` or `MESSAGE_TOO_LARGE`. */
  readonly code: "INVALID_MESSAGE" | "MESSAGE_TOO_LARGE";
  /** Creates an envelope error. */
  constructor(code: "INVALID_MESSAGE" | "MESSAGE_TOO_LARGE", message: string) {
    super(message);
    this.name = "EnvelopeError";
    this.code = code;
  }
}

/** Options for `parseEnvelope`. */
export interface ParseOptions {
  /** Maximum nesting depth (default 64). */
  maxDepth?: number;
}

/** Types in the system category `WSE` (PROTOCOL.md §3). */
export const SYSTEM_TYPES: ReadonlySet<string> = new Set([
  "server_ready",
  "server_hello",
  "client_hello",
  "subscription_update",
  "subscription",
  "error",
  "ping",
  "PONG",
  "pong",
  "presence_join",
  "presence_leave",
  "presence_update",
  "presence",
  "presence_request",
  "rate_limit_warning",
  "snapshot_complete",
  "publish_ack",
]);

/** The category of a message type: `WSE` for system messages, `S` for snapshot traffic, `U` otherwise. */
export function categoryOf(type: string): "WSE" | "S" | "U" {
  if (SYSTEM_TYPES.has(type)) return "WSE";
  if (type.includes("snapshot") || type === "sync_request") return "S";
  return "U";
}

/** Depth of a JSON-like value, computed iteratively; stops early once over `limit`. */
export function depthOf(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > max) {
      max = depth;
      if (max > limit) return max;
    }
    const children = Array.isArray(node) ? node : Object.values(node as object);
    for (const child of children) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return max;
}

/**
 * Counts `{` and `[` in JSON text, stopping once past `limit`: nesting can never be deeper than
 * that count, so a small count proves the depth limit without walking the parsed value.
 */
function openingBrackets(text: string, limit: number): number {
  let count = 0;
  for (const bracket of ["{", "["]) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++count > limit) return count;
    }
  }
  return count;
}

function decodeBody(frame: DecodedFrame): unknown {
  if (frame.format === "msgpack") {
    try {
      return msgpackDecode(frame.bytes ?? new Uint8Array());
    } catch (error) {
      throw new EnvelopeError("INVALID_MESSAGE", `invalid msgpack: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(frame.text ?? "");
  } catch {
    throw new EnvelopeError("INVALID_MESSAGE", "invalid JSON");
  }
}

/**
 * Parses a decoded frame into an envelope: accepts `type`/`payload` as aliases of `t`/`p`,
 * rejects non-objects, missing types and bodies nested deeper than the limit.
 */
export function parseEnvelope(frame: DecodedFrame, options: ParseOptions = {}): Envelope {
  const raw = decodeBody(frame);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new EnvelopeError("INVALID_MESSAGE", "envelope must be an object");
  }
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const shallow = frame.format === "json" && openingBrackets(frame.text ?? "", maxDepth) <= maxDepth;
  if (!shallow && depthOf(raw, maxDepth) > maxDepth) {
    throw new EnvelopeError("MESSAGE_TOO_LARGE", `envelope nesting exceeds ${maxDepth}`);
  }
  const obj = raw as Record<string, unknown>;
  const type = obj.t ?? obj.type;
  if (typeof type !== "string" || type.length === 0) throw new EnvelopeError("INVALID_MESSAGE", "envelope has no type");
  const payload = obj.p ?? obj.payload ?? {};
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new EnvelopeError("INVALID_MESSAGE", "payload must be an object");
  }
  const env: Envelope = { t: type, p: payload as Record<string, unknown> };
  if (typeof obj.c === "string") env.c = obj.c;
  if (typeof obj.id === "string") env.id = obj.id;
  if (typeof obj.ts === "string") env.ts = obj.ts;
  if (typeof obj.seq === "number") env.seq = obj.seq;
  if (typeof obj.v === "number") env.v = obj.v;
  if (typeof obj.pri === "number") env.pri = obj.pri;
  if (typeof obj.cid === "string") env.cid = obj.cid;
  if (typeof obj.sig === "string") env.sig = obj.sig;
  if (typeof obj.tp === "string") env.tp = obj.tp;
  if (typeof obj.e === "string") env.e = obj.e;
  if (typeof obj.o === "number") env.o = obj.o;
  return env;
}

/** Copies an envelope into a fresh object in canonical key order (stamp, c, t, id, ts, seq, v, pri, cid, sig, p). */
export function canonicalEnvelope(env: Envelope): Envelope {
  const out: Record<string, unknown> = {};
  if (env.tp !== undefined) {
    out.tp = env.tp;
    out.e = env.e;
    out.o = env.o;
  }
  out.c = env.c ?? categoryOf(env.t);
  out.t = env.t;
  if (env.id !== undefined) out.id = env.id;
  if (env.ts !== undefined) out.ts = env.ts;
  if (env.seq !== undefined) out.seq = env.seq;
  out.v = env.v ?? 1;
  if (env.pri !== undefined) out.pri = env.pri;
  if (env.cid !== undefined) out.cid = env.cid;
  if (env.sig !== undefined) out.sig = env.sig;
  out.p = env.p;
  return out as unknown as Envelope;
}

/** Serializes an envelope as JSON in canonical key order. */
export function envelopeToJson(env: Envelope): string {
  return JSON.stringify(canonicalEnvelope(env));
}

/** Serializes an envelope as a msgpack map (no `M:` prefix). */
export function envelopeToMsgpack(env: Envelope): Uint8Array {
  return msgpackEncode(canonicalEnvelope(env));
}

/** Current time as ISO-8601 with milliseconds and `Z`. */
export function isoNow(): string {
  return new Date().toISOString();
}
