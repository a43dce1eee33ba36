/**
 * JWT authentication for the WebSocket handshake (PROTOCOL.md §1), built on jose.
 *
 * Rules: `exp` required; 30 s leeway on `exp`/`nbf`; `iss`/`aud` checked when configured; `sub`
 * must be a non-empty string (it becomes the user id); algorithms are pinned per key kind, so an
 * HMAC token is only ever checked against the configured secret and a public-key token only
 * against the public key or JWKS (no `alg: none`, no RS256/HS256 confusion); tokens over 8 KiB
 * are rejected before they are parsed; an optional previous secret/key allows rotation; an
 * optional required `kid`.
 *
 * With no key configured (development mode) the authenticator accepts every connection and
 * returns `null`: the engine derives the user id from the connection id.
 *
 * @example
 * ```ts
 * const authenticate = createAuthenticator({ secret: "a-secret-of-at-least-32-bytes-long!!" });
 * const result = await authenticate(token); // AuthResult, or throws AuthError
 * ```
 *
 * @module
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  importJWK,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { KeyObject } from "node:crypto";
import { AclError, compileAcl, type TopicAcl } from "./acl.ts";
import { importHmacKey, isPlainHmacHeader, verifyHmacJwt } from "./hmac-jwt.ts";
import type { JwtAlgorithm, JwtConfig } from "../types.ts";

export type { JwtAlgorithm } from "../types.ts";

/** Every supported algorithm. */
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"];

const HMAC_ALGORITHMS: readonly JwtAlgorithm[] = ["HS256", "HS384", "HS512"];
const ASYMMETRIC_ALGORITHMS: readonly JwtAlgorithm[] = ["RS256", "ES256", "EdDSA"];

const utf8 = new TextEncoder();

/** Smallest HMAC secret accepted (RFC 7518 §3.2 for HS256). */
export const MIN_SECRET_BYTES = 32;
/** Tokens longer than this (in UTF-8 bytes) are rejected without being parsed. */
export const MAX_TOKEN_BYTES = 8192;
/** Default clock leeway on `exp` and `nbf`, seconds. */
export const DEFAULT_LEEWAY_SECONDS = 30;

/**
 * When a connection authenticated with these claims must be closed (ms since the epoch):
 * `exp` plus the leeway, or `Infinity` when the claims carry no numeric `exp` or the config
 * turns `closeOnExpiry` off.
 */
export function connectionDeadline(claims: Record<string, unknown>, config: AuthConfig | undefined): number {
  const exp = claims.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp) || config?.closeOnExpiry === false) return Infinity;
  return (exp + (config?.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS)) * 1000;
}

/** A verification key: PEM (SPKI) text, a JWK object, or an imported CryptoKey. */
export type PublicKeyInput = string | JWK | CryptoKey;

/**
 * How tokens are verified: `JwtConfig` (server/types.ts) plus a few extensions. With none of
 * `secret`, `publicKey`, `jwksUrl` auth is off (development mode).
 */
export interface AuthConfig extends Omit<JwtConfig, "publicKey" | "issuer" | "jwksUrl"> {
  /** HMAC secret for HS256/HS384/HS512 (a string is taken as UTF-8); at least 32 bytes. */
  secret?: string | Uint8Array;
  /** The secret being rotated out; tokens signed with it stay valid until it is removed. */
  previousSecret?: string | Uint8Array;
  /** Public key for RS256/ES256/EdDSA. */
  publicKey?: PublicKeyInput;
  /** The public key being rotated out. */
  previousPublicKey?: PublicKeyInput;
  /** JWKS URL; keys are fetched with jose's `createRemoteJWKSet` and cached. */
  jwksUrl?: string | URL;
  /** JWKS cache lifetime, ms (default 10 minutes). */
  jwksCacheMaxAgeMs?: number;
  /** Minimum time between JWKS refetches on an unknown `kid`, ms (default 30 s). */
  jwksCooldownMs?: number;
  /** JWKS fetch timeout, ms (default 5 s). */
  jwksTimeoutMs?: number;
  /**
   * Allowed algorithms. Default: `HS256` with a secret; with a public key the one its type
   * implies (RSA → RS256, P-256 → ES256, Ed25519 → EdDSA); with a JWKS URL RS256, ES256, EdDSA.
   */
  algorithms?: JwtAlgorithm[];
  /** Required issuer(s). */
  issuer?: string | string[];
  /** Required audience(s): the token must name one of them. */
  audience?: string | string[];
  /**
   * Require a `kid` header: `true` = any value, a list = one of these values. Implied (with the
   * values `kid`/`previousKid`) when `kid` is set.
   */
  requireKid?: boolean | string[];
  /** Key id of the current secret/public key: the token's `kid` then selects the key. */
  kid?: string;
  /** Key id of the previous secret/public key during rotation. */
  previousKid?: string;
  /** Clock leeway on `exp`/`nbf`, seconds (default 30). */
  leewaySeconds?: number;
  /** Largest token accepted, bytes (default 8192). */
  maxTokenBytes?: number;
  /**
   * Close a connection once its token expires, i.e. when `exp` plus the leeway has passed
   * (default true): the client gets an `error` frame `AUTH_FAILED` "token expired" and close
   * 4401, which clients treat as final (they need a fresh token). Checked by the engine's
   * periodic sweep (every 250 ms at most), so no timer per connection. `false` keeps
   * connections open past `exp`, as WSE 2.x does; revoke those with `POST /api/disconnect`.
   */
  closeOnExpiry?: boolean;
  /** Clock for tests, ms since the epoch. */
  now?: () => number;
}

/** A verified identity. */
export interface AuthResult {
  /** The token's `sub`. */
  userId: string;
  /** All verified claims. */
  claims: JWTPayload & Record<string, unknown>;
  /** The compiled `wse_topics` ACL, or `null` when the claim is absent (no restriction). */
  acl: TopicAcl | null;
}

/** Why a connection was refused: `AUTH_REQUIRED` (no token) or `AUTH_FAILED` (bad token). */
export type AuthErrorCode = "AUTH_REQUIRED" | "AUTH_FAILED";

/** Thrown by an authenticator; the engine sends it as an `error` frame and closes with 4401. */
export class AuthError extends Error {
  /** Protocol error code. */
  readonly code: AuthErrorCode;
  /** Creates the error. */
  constructor(code: AuthErrorCode, message: string) {
    super(message);
    this.name = "AuthError";
    this.code = code;
  }
}

/**
 * Verifies a token and resolves with the identity, or rejects with `AuthError`. Resolves with
 * `null` only in development mode (no key configured): the engine then derives the user id from
 * the connection id.
 */
export type Authenticator = (token: string | null | undefined) => Promise<AuthResult | null>;

/** True when the config enables JWT verification. */
export function isAuthConfigured(config: AuthConfig | undefined): boolean {
  return !!config && (config.secret !== undefined || config.publicKey !== undefined || config.jwksUrl !== undefined);
}

/** Thrown by `createAuthenticator` when the configuration itself is unusable. */
export class AuthConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AuthConfigError";
  }
}

interface KeySlot {
  kid: string | undefined;
  resolve: (algorithm: JwtAlgorithm) => Promise<CryptoKey | Uint8Array | JWTVerifyGetKey>;
  /** HMAC slots: the secret imported once for the synchronous verifier (`hmac-jwt.ts`). */
  hmac?: KeyObject;
}

/**
 * Builds an authenticator from the config. Configuration errors (short secret, unknown algorithm,
 * unreadable key) throw `AuthConfigError` here, at startup, never at connect time.
 */
export function createAuthenticator(config: AuthConfig = {}): Authenticator {
  if (!isAuthConfigured(config)) return async () => null;

  const leeway = config.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS;
  const requiredKids = resolveRequiredKids(config);
  const maxBytes = config.maxTokenBytes ?? MAX_TOKEN_BYTES;
  const algorithms = resolveAlgorithms(config);
  const hmacAllowed = algorithms.filter((a) => HMAC_ALGORITHMS.includes(a));
  const asymmetricAllowed = algorithms.filter((a) => ASYMMETRIC_ALGORITHMS.includes(a));

  const hmacSlots: KeySlot[] = [];
  if (config.secret !== undefined) {
    if (hmacAllowed.length === 0) throw new AuthConfigError("a JWT secret is configured but no HS* algorithm is allowed");
    hmacSlots.push(secretSlot(config.secret, config.kid, "secret"));
    if (config.previousSecret !== undefined) {
      hmacSlots.push(secretSlot(config.previousSecret, config.previousKid, "previous secret"));
    }
  } else if (hmacAllowed.length > 0) {
    throw new AuthConfigError(`algorithm ${hmacAllowed.join(",")} needs a JWT secret`);
  }

  const asymmetricSlots: KeySlot[] = [];
  if (config.publicKey !== undefined) {
    asymmetricSlots.push(publicKeySlot(config.publicKey, config.kid, asymmetricAllowed));
    if (config.previousPublicKey !== undefined) {
      asymmetricSlots.push(publicKeySlot(config.previousPublicKey, config.previousKid, asymmetricAllowed));
    }
  }
  if (config.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(String(config.jwksUrl));
    } catch {
      throw new AuthConfigError(`JWKS URL is not a URL: ${String(config.jwksUrl)}`);
    }
    const jwks = createRemoteJWKSet(url, {
      cacheMaxAge: config.jwksCacheMaxAgeMs ?? 600_000,
      cooldownDuration: config.jwksCooldownMs ?? 30_000,
      timeoutDuration: config.jwksTimeoutMs ?? 5_000,
    });
    asymmetricSlots.push({ kid: config.kid, resolve: async () => jwks });
  }
  if (asymmetricSlots.length > 0 && asymmetricAllowed.length === 0) {
    throw new AuthConfigError("a public key or JWKS URL is configured but no RS256/ES256/EdDSA algorithm is allowed");
  }
  if (asymmetricSlots.length === 0 && asymmetricAllowed.length > 0) {
    throw new AuthConfigError(`algorithm ${asymmetricAllowed.join(",")} needs a public key or a JWKS URL`);
  }

  /** jose's verification options: the same for every token of one algorithm, so made once (per call only with a test clock). */
  const verifyOptions = (alg: string, currentDate: Date | undefined) =>
    Object.freeze({
      algorithms: [alg],
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: leeway,
      requiredClaims: ["exp"],
      currentDate,
    });
  const sharedOptions: Record<string, ReturnType<typeof verifyOptions>> = Object.create(null);

  return async (token) => {
    if (token === null || token === undefined || token === "") {
      throw new AuthError("AUTH_REQUIRED", "authentication token required");
    }
    if (typeof token !== "string") throw new AuthError("AUTH_FAILED", "token must be a string");
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only a token near the limit is encoded to measure it.
    if (token.length > maxBytes || (token.length * 3 > maxBytes && utf8.encode(token).byteLength > maxBytes)) {
      throw new AuthError("AUTH_FAILED", `token larger than ${maxBytes} bytes`);
    }
    let header: { alg?: unknown; kid?: unknown } & Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthError("AUTH_FAILED", "malformed token");
    }
    const alg = header.alg;
    if (typeof alg !== "string" || !algorithms.includes(alg as JwtAlgorithm)) {
      throw new AuthError("AUTH_FAILED", `algorithm ${typeof alg === "string" ? alg : "(missing)"} not allowed`);
    }
    const slots = HMAC_ALGORITHMS.includes(alg as JwtAlgorithm) ? hmacSlots : asymmetricSlots;
    const kid = typeof header.kid === "string" ? header.kid : undefined;
    const candidates = selectSlots(slots, kid, requiredKids);

    const options = config.now ? verifyOptions(alg, new Date(config.now())) : (sharedOptions[alg] ??= verifyOptions(alg, undefined));
    const plainHmac = isPlainHmacHeader(header);
    let lastError: unknown;
    for (const slot of candidates) {
      try {
        if (slot.hmac && plainHmac) return toResult(verifyHmacJwt(token, alg, slot.hmac, options));
        const key = await slot.resolve(alg as JwtAlgorithm);
        const { payload } = typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
        return toResult(payload);
      } catch (error) {
        if (error instanceof AuthError) throw error;
        lastError = error;
        if (!(error instanceof joseErrors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw toAuthError(lastError);
  };
}

/** `false` = kid optional; `true` = any kid; a list = one of these. */
function resolveRequiredKids(config: AuthConfig): boolean | string[] {
  const required = config.requireKid;
  if (Array.isArray(required)) {
    if (required.length === 0 || !required.every((k) => typeof k === "string" && k.length > 0)) {
      throw new AuthConfigError("requireKid must be true or a non-empty list of key ids");
    }
    return [...required];
  }
  if (config.kid !== undefined) {
    if (required === false) return false;
    return [config.kid, ...(config.previousKid !== undefined ? [config.previousKid] : [])];
  }
  return required === true;
}

function selectSlots(slots: KeySlot[], kid: string | undefined, required: boolean | string[]): KeySlot[] {
  if (kid === undefined && required !== false) throw new AuthError("AUTH_FAILED", "token has no kid");
  if (kid !== undefined && Array.isArray(required) && !required.includes(kid)) {
    throw new AuthError("AUTH_FAILED", `unknown kid ${JSON.stringify(kid.slice(0, 64))}`);
  }
  // A key bound to a kid only verifies tokens naming that kid; unbound keys verify any.
  const matching = slots.filter((slot) => slot.kid === undefined || slot.kid === kid);
  if (matching.length === 0) {
    throw new AuthError("AUTH_FAILED", kid === undefined ? "token has no kid" : `unknown kid ${JSON.stringify(kid.slice(0, 64))}`);
  }
  return matching;
}

function toResult(payload: JWTPayload): AuthResult {
  if (typeof payload.sub !== "string" || payload.sub.length === 0) {
    throw new AuthError("AUTH_FAILED", "token sub must be a non-empty string");
  }
  let acl: TopicAcl | null;
  try {
    acl = compileAcl(payload.wse_topics);
  } catch (error) {
    throw new AuthError("AUTH_FAILED", error instanceof AclError ? `invalid wse_topics claim: ${error.message}` : "invalid wse_topics claim");
  }
  return { userId: payload.sub, claims: payload as JWTPayload & Record<string, unknown>, acl };
}

function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof joseErrors.JWTExpired) return new AuthError("AUTH_FAILED", "token expired");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = error.claim;
    if (claim === "nbf") return new AuthError("AUTH_FAILED", "token not yet valid");
    if (claim === "exp") return new AuthError("AUTH_FAILED", "token has no valid exp");
    if (claim === "iss") return new AuthError("AUTH_FAILED", "token issuer not accepted");
    if (claim === "aud") return new AuthError("AUTH_FAILED", "token audience not accepted");
    return new AuthError("AUTH_FAILED", `invalid claim ${claim}`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthError("AUTH_FAILED", "invalid signature");
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new AuthError("AUTH_FAILED", "algorithm not allowed");
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new AuthError("AUTH_FAILED", "no matching key in JWKS");
  if (error instanceof joseErrors.JWKSTimeout) return new AuthError("AUTH_FAILED", "JWKS fetch timed out");
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) return new AuthError("AUTH_FAILED", "malformed token");
  if (error instanceof joseErrors.JOSEError) return new AuthError("AUTH_FAILED", `token rejected (${error.code})`);
  return new AuthError("AUTH_FAILED", "token verification failed");
}

function resolveAlgorithms(config: AuthConfig): JwtAlgorithm[] {
  if (config.algorithms && config.algorithms.length > 0) {
    for (const alg of config.algorithms) {
      if (!JWT_ALGORITHMS.includes(alg)) throw new AuthConfigError(`unsupported JWT algorithm ${String(alg)}; use one of ${JWT_ALGORITHMS.join(", ")}`);
    }
    return [...new Set(config.algorithms)];
  }
  const algorithms: JwtAlgorithm[] = [];
  if (config.secret !== undefined) algorithms.push("HS256");
  if (config.publicKey !== undefined) algorithms.push(inferAlgorithm(config.publicKey));
  if (config.jwksUrl !== undefined) algorithms.push(...ASYMMETRIC_ALGORITHMS);
  return [...new Set(algorithms)];
}

/**
 * An HMAC key slot. The secret is imported once, here at creation, as a `KeyObject` for the
 * synchronous verifier; jose's general path (tokens with `crit`/`b64` headers) gets the bytes.
 */
function secretSlot(secret: string | Uint8Array, kid: string | undefined, label: string): KeySlot {
  const bytes = typeof secret === "string" ? utf8.encode(secret) : secret;
  if (!(bytes instanceof Uint8Array)) throw new AuthConfigError(`JWT ${label} must be a string or bytes`);
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new AuthConfigError(`JWT ${label} is ${bytes.byteLength} bytes; at least ${MIN_SECRET_BYTES} are required`);
  }
  const material = new Uint8Array(bytes); // a private copy: later changes to the caller's bytes do not matter
  const raw = Promise.resolve(material);
  return { kid, hmac: importHmacKey(material), resolve: () => raw };
}

/**
 * A public-key slot. The key is imported once per allowed algorithm, starting at creation; an
 * algorithm the key does not fit fails (and is retried) only when a token asks for it.
 */
function publicKeySlot(input: PublicKeyInput, kid: string | undefined, allowed: JwtAlgorithm[]): KeySlot {
  if (typeof input === "string") {
    if (input.includes("PRIVATE KEY")) throw new AuthConfigError("the JWT public key is a private key; configure the public key");
    pemBody(input);
  } else if (!isCryptoKey(input)) {
    if (typeof input !== "object" || input === null) throw new AuthConfigError("the JWT public key must be PEM text, a JWK or a CryptoKey");
    if (input.kty === "oct") throw new AuthConfigError("a symmetric JWK cannot be a public key; configure it as the secret");
    if (input.d !== undefined) throw new AuthConfigError("the JWT public key JWK holds private material");
  }
  const cache = new Map<JwtAlgorithm, Promise<CryptoKey | Uint8Array>>();
  const load = (algorithm: JwtAlgorithm): Promise<CryptoKey | Uint8Array> => {
    let key = cache.get(algorithm);
    if (!key) {
      key = importPublicKey(input, algorithm);
      key.catch(() => cache.delete(algorithm));
      cache.set(algorithm, key);
    }
    return key;
  };
  for (const algorithm of allowed) load(algorithm);
  return {
    kid,
    resolve: (algorithm) =>
      load(algorithm).catch(() => {
        throw new AuthError("AUTH_FAILED", `algorithm ${algorithm} does not match the configured key`);
      }),
  };
}

async function importPublicKey(input: PublicKeyInput, algorithm: JwtAlgorithm): Promise<CryptoKey | Uint8Array> {
  if (typeof input === "string") return importSPKI(input, algorithm);
  if (isCryptoKey(input)) return input;
  return importJWK(input as JWK, algorithm);
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof value === "object" && value !== null && "algorithm" in value && "type" in value && "usages" in value;
}

function inferAlgorithm(input: PublicKeyInput): JwtAlgorithm {
  if (typeof input === "string") {
    if (input.includes("PRIVATE KEY")) throw new AuthConfigError("the JWT public key is a private key; configure the public key");
    const der = pemBody(input);
    // The SPKI AlgorithmIdentifier OID tells the key type.
    if (containsBytes(der, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])) return "RS256"; // rsaEncryption
    if (containsBytes(der, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])) return "ES256"; // prime256v1
    if (containsBytes(der, [0x2b, 0x65, 0x70])) return "EdDSA"; // Ed25519
    throw new AuthConfigError("cannot tell the JWT public key's algorithm; set the algorithm (RS256, ES256 or EdDSA)");
  }
  if (isCryptoKey(input)) {
    const name = (input as unknown as { algorithm: { name?: string } }).algorithm.name;
    if (name === "RSASSA-PKCS1-v1_5") return "RS256";
    if (name === "ECDSA") return "ES256";
    if (name === "Ed25519" || name === "EdDSA") return "EdDSA";
    throw new AuthConfigError(`unsupported public key algorithm ${String(name)}`);
  }
  const jwk = input as JWK;
  if (typeof jwk.alg === "string" && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(jwk.alg)) return jwk.alg as JwtAlgorithm;
  if (jwk.kty === "RSA") return "RS256";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  throw new AuthConfigError("cannot tell the JWT public key's algorithm; set the algorithm (RS256, ES256 or EdDSA)");
}

function pemBody(pem: string): Uint8Array {
  const base64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  try {
    const binary = atob(base64);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    throw new AuthConfigError("the JWT public key is not PEM text");
  }
}

function containsBytes(haystack: Uint8Array, needle: number[]): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
