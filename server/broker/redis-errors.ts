/**
 * The error the Redis broker rejects with while Redis is unreachable, so callers can tell an
 * outage (HTTP 503, retry later) from a bad request.
 *
 * ```ts
 * try { await broker.publish("chat", data); }
 * catch (error) { if (isBrokerUnavailable(error)) return new Response("unavailable", { status: 503 }); }
 * ```
 *
 * @module
 */

/**
 * Redis (the broker's backing store) cannot be reached, so the operation did not complete. A
 * publish that timed out may still have been applied: retry it with the same `id` and an
 * idempotency TTL to get exactly one publication.
 */
export class BrokerUnavailableError extends Error {
  /** Stable code for logs and API answers. */
  readonly code = "BROKER_UNAVAILABLE";

  /** `message` says what could not be done and why. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BrokerUnavailableError";
  }
}

/** True for a `BrokerUnavailableError` (also across module copies, by name and code). */
export function isBrokerUnavailable(error: unknown): error is BrokerUnavailableError {
  return error instanceof BrokerUnavailableError ||
    (error instanceof Error && (error as { code?: unknown }).code === "BROKER_UNAVAILABLE");
}

const CONNECTION_FAILURE =
  /Connection is closed|Stream isn't writeable|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|max retries|LOADING|NOT ?CONNECTED/i;

/** True when an ioredis error means the connection failed rather than the command. */
export function isConnectionFailure(error: unknown): boolean {
  return error instanceof Error && CONNECTION_FAILURE.test(error.message);
}
