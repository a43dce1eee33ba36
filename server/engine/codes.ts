/**
 * Close codes and error codes of the WSE protocol (PROTOCOL.md §1, §6, §7).
 *
 * @module
 */

/** WebSocket close codes the server uses. */
export const CloseCode = {
  /** Normal closure (server-initiated disconnect). */
  NORMAL: 1000,
  /** Server restart: clients reconnect (drain). */
  RESTART: 1012,
  /** No inbound frame for the idle timeout. */
  IDLE: 4000,
  /** Slow consumer (outbound buffer over the backpressure limit). */
  SLOW_CONSUMER: 4008,
  /** Drain: reconnect elsewhere. */
  DRAIN: 4300,
  /** Sustained protocol abuse (garbage). */
  PROTOCOL_ABUSE: 4400,
  /** Authentication failed (final). */
  AUTH: 4401,
  /** Forbidden, e.g. origin not allowed (final). */
  FORBIDDEN: 4403,
  /** Sustained rate-limit abuse. */
  RATE_ABUSE: 4429,
} as const;

/** Error codes carried in `error` envelopes. */
export type ErrorCode =
  | "AUTH_REQUIRED"
  | "AUTH_FAILED"
  | "ORIGIN_NOT_ALLOWED"
  | "INVALID_MESSAGE"
  | "MESSAGE_TOO_LARGE"
  | "RATE_LIMITED"
  | "KEY_EXCHANGE_FAILED"
  | "DECRYPTION_FAILED"
  | "FORBIDDEN"
  | "PUBLISH_DISABLED"
  | "INVALID_TOPIC"
  | "PRESENCE_DISABLED"
  | "SERVER_DRAINING"
  | "INTERNAL_ERROR";

/** Invalid inbound frames within 10 s that close the connection with 4400. */
export const GARBAGE_CLOSE_THRESHOLD = 32;

/** Consecutive failed decryptions that trigger a `DECRYPTION_FAILED` error. */
export const DECRYPTION_ERROR_EVERY = 3;
