/**
 * JSON responses of the HTTP API and the mapping of failures to them: `HttpInputError` → its
 * status and code, a server call that failed for a reason other than bad input → 503
 * `UNAVAILABLE` (logged as a warning), anything else → 500 `INTERNAL` (logged as an error).
 * Shared by the hono routes and the publish fast path, so both answer byte for byte alike.
 *
 * @example
 * ```ts
 * return jsonResponse(200, { epoch, offset });
 * ```
 *
 * @module
 */
import type { Logger } from "../types.ts";
import { HttpInputError } from "./validate.ts";

const JSON_HEADERS = { "content-type": "application/json" } as const;
const OK_INIT: ResponseInit = { status: 200, headers: JSON_HEADERS };

/** A JSON response (`content-type: application/json`) with optional extra headers. */
export function jsonResponse(status: number, body: unknown, headers?: Record<string, string>): Response {
  if (status === 200 && !headers) return new Response(JSON.stringify(body), OK_INIT);
  return new Response(JSON.stringify(body), { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS });
}

/** A server call failed for a reason other than bad input (broker down, timeout, …): 503. */
export class ServiceUnavailable extends Error {
  /** The original failure. */
  readonly reason: unknown;
  /** Wraps `reason`; the message names the request path. */
  constructor(reason: unknown, path: string) {
    super(`${path}: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = "ServiceUnavailable";
    this.reason = reason;
  }
}

/**
 * Runs a server call: the server rejects bad input with `TypeError` (its documented contract)
 * → 400 `INVALID_REQUEST`; any other failure becomes `ServiceUnavailable` (503).
 */
export async function callServer<T>(path: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw asRequestError(error, path);
  }
}

/** The error a failed server call is answered with (`HttpInputError` or `ServiceUnavailable`). */
export function asRequestError(error: unknown, path: string): HttpInputError | ServiceUnavailable {
  if (error instanceof HttpInputError || error instanceof ServiceUnavailable) return error;
  if (error instanceof TypeError) return new HttpInputError(400, "INVALID_REQUEST", error.message);
  return new ServiceUnavailable(error, path);
}

/** The JSON error response for a failure of a request to `method path`; 503s and 500s are logged. */
export function errorResponse(error: unknown, method: string, path: string, logger: Logger | undefined): Response {
  if (error instanceof HttpInputError) return jsonResponse(error.status, { error: error.code, message: error.message });
  if (error instanceof ServiceUnavailable) {
    logger?.warn("http api unavailable", { path, error: error.reason });
    return jsonResponse(503, { error: "UNAVAILABLE", message: error.message });
  }
  logger?.error("http api error", { path, method, error });
  return jsonResponse(500, { error: "INTERNAL", message: "internal server error" });
}
