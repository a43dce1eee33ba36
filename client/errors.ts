/**
 * Error classes thrown or emitted by the WSE client.
 *
 * Every error the client raises is a `WSEError`; the subclass says what went wrong so callers
 * can branch with `instanceof`:
 *
 * ```ts
 * import { WSEAuthError, connect } from "./mod.ts";
 * try {
 *   await connect("ws://127.0.0.1:5007/wse", { token: "bad" });
 * } catch (err) {
 *   if (err instanceof WSEAuthError) console.log("log in again:", err.code);
 * }
 * ```
 *
 * @module
 */

/** Extra facts attached to an error. */
export interface WSEErrorDetails {
  /** Machine-readable reason, e.g. the server's error `code` (`AUTH_FAILED`, `RATE_LIMITED`). */
  code?: string;
  /** WebSocket close code that caused the error, when there was one. */
  closeCode?: number;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error raised by the WSE client. */
export class WSEError extends Error {
  /** Machine-readable reason, when known. */
  readonly code?: string;
  /** WebSocket close code that caused the error, when there was one. */
  readonly closeCode?: number;

  /** Creates an error with a message and optional details. */
  constructor(message: string, details: WSEErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    if (details.code !== undefined) this.code = details.code;
    if (details.closeCode !== undefined) this.closeCode = details.closeCode;
  }
}

/** The connection could not be opened or was lost. */
export class WSEConnectionError extends WSEError {}

/** An operation did not complete in time (connect, handshake, `recv`, a reply). */
export class WSETimeoutError extends WSEError {}

/** The server refused the credentials (close 4401) or the origin/permission (close 4403). Final: no reconnect. */
export class WSEAuthError extends WSEError {}

/** A rate limit was hit, locally (token bucket) or reported by the server. */
export class WSERateLimitError extends WSEError {
  /** Milliseconds to wait before trying again. */
  readonly retryAfter: number;

  /** Creates a rate-limit error; `retryAfter` is in milliseconds. */
  constructor(message: string, retryAfter: number, details: WSEErrorDetails = {}) {
    super(message, details);
    this.retryAfter = retryAfter;
  }
}

/** The peer sent something that violates the wire protocol, or a request was malformed. */
export class WSEProtocolError extends WSEError {}

/** The circuit breaker is open: connection attempts are refused until it half-opens. */
export class WSECircuitBreakerError extends WSEError {
  /** Milliseconds until the breaker lets a probe attempt through. */
  readonly retryAfter: number;

  /** Creates a breaker error; `retryAfter` is in milliseconds. */
  constructor(message: string, retryAfter: number, details: WSEErrorDetails = {}) {
    super(message, details);
    this.retryAfter = retryAfter;
  }
}

/** Key exchange, encryption or decryption failed. */
export class WSEEncryptionError extends WSEError {}
