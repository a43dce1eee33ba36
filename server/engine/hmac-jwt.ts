/**
 * Synchronous HS256/HS384/HS512 JWT verification with `node:crypto` (Bun and Deno both have it).
 * WebCrypto's `subtle.verify`, which jose uses, costs ~35–40 µs per call on Bun (a round trip
 * through a worker pool) against ~1 µs for `createHmac` on a `KeyObject` imported once; at
 * connection-storm rates that was the largest share of the upgrade. The signature is checked
 * here; the claims (`exp`, `nbf`, `iss`, `aud`, leeway) are still validated by jose itself
 * (`UnsecuredJWT.decode` over the verified payload), so errors and rules stay jose's.
 *
 * @example
 * ```ts
 * const key = importHmacKey(secretBytes);
 * const payload = verifyHmacJwt(token, "HS256", key, { requiredClaims: ["exp"] });
 * ```
 * @module
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { errors as joseErrors, type JWTClaimVerificationOptions, type JWTPayload, UnsecuredJWT } from "jose";

/** The HMAC algorithms and their hashes. */
const HASHES = new Map([["HS256", "sha256"], ["HS384", "sha384"], ["HS512", "sha512"]]);
/** base64url of `{"alg":"none"}`: the header of the unsecured form handed to jose's claim checks. */
const NONE_HEADER = "eyJhbGciOiJub25lIn0";
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Imports an HMAC secret once (the `KeyObject` is reused for every verification). */
export function importHmacKey(secret: Uint8Array): KeyObject {
  return createSecretKey(secret);
}

/**
 * True when this verifier handles a token with this protected header: an HS algorithm and no
 * `crit`/`b64` members (those rare tokens go through jose's general path).
 */
export function isPlainHmacHeader(header: Record<string, unknown>): boolean {
  return typeof header.alg === "string" && HASHES.has(header.alg) && header.crit === undefined && header.b64 === undefined;
}

/**
 * Verifies a compact JWS signed with `algorithm` under `key` and validates its claims with
 * `options`. Throws jose's errors: `JWSInvalid` (malformed), `JWSSignatureVerificationFailed`,
 * `JWTInvalid`, `JWTExpired`, `JWTClaimValidationFailed`.
 */
export function verifyHmacJwt(token: string, algorithm: string, key: KeyObject, options: JWTClaimVerificationOptions): JWTPayload {
  const hash = HASHES.get(algorithm);
  if (!hash) throw new joseErrors.JOSEAlgNotAllowed(`${algorithm} is not an HMAC algorithm`);
  const first = token.indexOf(".");
  const last = token.lastIndexOf(".");
  if (first <= 0 || last === first || token.indexOf(".", first + 1) !== last) throw new joseErrors.JWSInvalid("Invalid Compact JWS");
  const signature = token.slice(last + 1);
  if (!BASE64URL.test(signature) || signature.length % 4 === 1) throw new joseErrors.JWSInvalid("Failed to base64url decode the signature");
  const expected = createHmac(hash, key).update(token.slice(0, last)).digest();
  const presented = Buffer.from(signature, "base64url");
  if (presented.byteLength !== expected.byteLength || !timingSafeEqual(presented, expected)) {
    throw new joseErrors.JWSSignatureVerificationFailed();
  }
  return UnsecuredJWT.decode(`${NONE_HEADER}.${token.slice(first + 1, last)}.`, options).payload;
}
