/**
 * Validation of HTTP API input (topic names, types, ids, close codes, JSON bodies), with errors
 * that carry the HTTP status and a stable code for the JSON error body.
 *
 * @module
 */

/** Longest topic name, in UTF-8 bytes (PROTOCOL.md §3). */
export const MAX_TOPIC_BYTES = 256;
/** Longest event type accepted through the HTTP API. */
export const MAX_TYPE_LENGTH = 256;
/** Longest idempotency id accepted through the HTTP API. */
export const MAX_ID_LENGTH = 256;

/** A client error in an HTTP API request: answered with `status` and `{error: code, message}`. */
export class HttpInputError extends Error {
  /** HTTP status (400, 413, …). */
  readonly status: 400 | 404 | 413 | 415;
  /** Stable error code for the JSON body. */
  readonly code: string;
  /** Creates the error. */
  constructor(status: 400 | 404 | 413 | 415, code: string, message: string) {
    super(message);
    this.name = "HttpInputError";
    this.status = status;
    this.code = code;
  }
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const encoder = new TextEncoder();

/** Returns the topic when it is a string of 1–256 UTF-8 bytes without control characters; else throws. */
export function validateTopic(value: unknown, field = "topic"): string {
  if (typeof value !== "string") throw new HttpInputError(400, "INVALID_TOPIC", `${field} must be a string`);
  if (value.length === 0) throw new HttpInputError(400, "INVALID_TOPIC", `${field} must not be empty`);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short names need no encoding to be measured.
  if (value.length * 3 > MAX_TOPIC_BYTES && encoder.encode(value).byteLength > MAX_TOPIC_BYTES) {
    throw new HttpInputError(400, "INVALID_TOPIC", `${field} longer than ${MAX_TOPIC_BYTES} bytes`);
  }
  if (CONTROL.test(value)) throw new HttpInputError(400, "INVALID_TOPIC", `${field} contains control characters`);
  return value;
}

/** Returns the event type when it is a non-empty string without control characters; else throws. */
export function validateType(value: unknown): string {
  if (typeof value !== "string" || value.length === 0) throw new HttpInputError(400, "INVALID_TYPE", "type must be a non-empty string");
  if (value.length > MAX_TYPE_LENGTH) throw new HttpInputError(400, "INVALID_TYPE", `type longer than ${MAX_TYPE_LENGTH} characters`);
  if (CONTROL.test(value)) throw new HttpInputError(400, "INVALID_TYPE", "type contains control characters");
  return value;
}

/** Returns an optional idempotency id (non-empty string up to 256 characters); else throws. */
export function validateOptionalId(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_LENGTH || CONTROL.test(value)) {
    throw new HttpInputError(400, "INVALID_ID", `id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
  return value;
}

/** Returns an optional priority (1–10 integer); else throws. */
export function validateOptionalPriority(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 10) {
    throw new HttpInputError(400, "INVALID_PRIORITY", "priority must be an integer from 1 to 10");
  }
  return value;
}

/** Returns an optional WebSocket close code an application may send (1000 or 3000–4999); else throws. */
export function validateOptionalCloseCode(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || !(value === 1000 || (value >= 3000 && value <= 4999))) {
    throw new HttpInputError(400, "INVALID_CODE", "code must be 1000 or an integer from 3000 to 4999");
  }
  return value;
}

/** Returns an optional short string (≤ `max` characters, e.g. a close reason); else throws. */
export function validateOptionalString(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.length > max) {
    throw new HttpInputError(400, "INVALID_FIELD", `${field} must be a string of at most ${max} characters`);
  }
  return value;
}

/** Parses a decimal integer query parameter ≥ `min`; absent → `undefined`; else throws. */
export function parseIntegerParam(value: string | undefined, field: string, min: number): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^-?\d{1,15}$/.test(value)) throw new HttpInputError(400, "INVALID_QUERY", `${field} must be an integer`);
  const n = Number(value);
  if (n < min) throw new HttpInputError(400, "INVALID_QUERY", `${field} must be ≥ ${min}`);
  return n;
}

/** Parses an optional epoch query parameter (8 lowercase hex digits). */
export function parseEpochParam(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^[0-9a-f]{8}$/.test(value)) throw new HttpInputError(400, "INVALID_QUERY", "epoch must be 8 lowercase hex digits");
  return value;
}

/** Parses a JSON request body of at most `maxBytes` into a plain object; else throws. */
export async function readJsonObject(request: Request, maxBytes: number): Promise<Record<string, unknown>> {
  const value = await readJson(request, maxBytes);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpInputError(400, "INVALID_BODY", "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a JSON request body of at most `maxBytes` (413 beyond, 400 when it is not UTF-8 JSON).
 * A body with a `Content-Length` is read in one piece (the declared length is checked first);
 * a body without one (chunked) is streamed and refused as soon as it passes the limit.
 */
export async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw bodyTooLarge(maxBytes);
  const bytes = declared !== null ? new Uint8Array(await request.arrayBuffer()) : await readLimited(request, maxBytes);
  if (bytes.byteLength > maxBytes) throw bodyTooLarge(maxBytes);
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    throw new HttpInputError(400, "INVALID_JSON", "request body must be valid UTF-8 JSON");
  }
}

function bodyTooLarge(maxBytes: number): HttpInputError {
  return new HttpInputError(413, "BODY_TOO_LARGE", `request body larger than ${maxBytes} bytes`);
}

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
