/**
 * HS256 JWTs for the benchmark connections (each connection its own `sub`).
 *
 * @example
 * ```ts
 * import { signJwt } from "./jwt.ts";
 * const token = signJwt("a-secret-of-at-least-32-bytes!!!!", "bench-1");
 * ```
 * @module
 */
import { createHmac } from "node:crypto";

function base64url(data: string): string {
  return Buffer.from(data).toString("base64url");
}

/** Signs an HS256 JWT with `sub`, `iat` and a one-hour `exp`. */
export function signJwt(secret: string, sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  const head = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = base64url(JSON.stringify({ sub, iat: now, exp: now + 3600 }));
  const signature = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${signature}`;
}
