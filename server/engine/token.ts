/**
 * Where a WebSocket upgrade request carries its JWT (PROTOCOL.md §1): first match wins —
 * the cookie (default `access_token`), then `Authorization: Bearer <jwt>`, then the query
 * parameter `?token=<jwt>` (browsers cannot set headers cross-origin; can be disabled).
 *
 * @example
 * ```ts
 * const token = extractToken(request, { cookieName: "access_token", allowQuery: true });
 * ```
 *
 * @module
 */

/** Options for `extractToken`. */
export interface TokenSourceOptions {
  /** Cookie holding the token (default `access_token`). */
  cookieName?: string;
  /** Accept `?token=` in the URL (default true). */
  allowQuery?: boolean;
}

/** The parts of a request `extractToken` reads (a `Request` fits). */
export interface TokenRequest {
  /** Absolute request URL. */
  url: string;
  /** Request headers. */
  headers: Headers;
}

/** Returns the token from the cookie, the `Authorization` header or `?token=`, else `null`. */
export function extractToken(req: TokenRequest, options: TokenSourceOptions = {}): string | null {
  const cookieName = options.cookieName ?? "access_token";
  const allowQuery = options.allowQuery ?? true;

  const fromCookie = readCookie(req.headers.get("cookie"), cookieName);
  if (fromCookie) return fromCookie;

  const authorization = req.headers.get("authorization");
  if (authorization) {
    const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1]!;
  }

  // Only a URL with a query is parsed (no URL object for the many upgrades that carry none).
  if (allowQuery && req.url.includes("?")) {
    let url: URL | undefined;
    try {
      url = new URL(req.url, "http://localhost");
    } catch {
      url = undefined;
    }
    const fromQuery = url?.searchParams.get("token");
    if (fromQuery) return fromQuery;
  }
  return null;
}

/** Reads one cookie value from a `Cookie` header (percent-decoded when valid), or `null`. */
export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!value) return null;
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return null;
}
