import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { AuthConfigError, AuthError, connectionDeadline, createAuthenticator, isAuthConfigured, MAX_TOKEN_BYTES, type AuthConfig } from "./auth.ts";

const SECRET = "0123456789abcdef0123456789abcdef-current";
const OLD_SECRET = "0123456789abcdef0123456789abcdef-previous";
const enc = (s: string) => new TextEncoder().encode(s);
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface SignOptions {
  alg?: string;
  kid?: string;
  claims?: JWTPayload;
  exp?: number | null;
  sub?: unknown;
}

async function sign(key: CryptoKey | Uint8Array, options: SignOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = { ...options.claims };
  if (options.sub !== undefined) claims.sub = options.sub;
  else if (!("sub" in claims)) claims.sub = "user-1";
  const exp = options.exp === undefined ? nowSeconds() + 3600 : options.exp;
  if (exp !== null) claims.exp = exp;
  const header: { alg: string; kid?: string } = { alg: options.alg ?? "HS256" };
  if (options.kid) header.kid = options.kid;
  return new SignJWT(claims as JWTPayload).setProtectedHeader(header).setIssuedAt().sign(key);
}

async function rejection(config: AuthConfig, token: string | null): Promise<AuthError> {
  const authenticate = createAuthenticator(config);
  try {
    await authenticate(token);
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    return error as AuthError;
  }
  throw new Error("token was accepted");
}

function unsignedToken(header: object, payload: object): string {
  const part = (v: object) => base64url.encode(enc(JSON.stringify(v)));
  return `${part(header)}.${part(payload)}.`;
}

let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
let rsaOther: { publicKey: CryptoKey; privateKey: CryptoKey };
let ec: { publicKey: CryptoKey; privateKey: CryptoKey };
let ed: { publicKey: CryptoKey; privateKey: CryptoKey };
let rsaPem: string;
let ecPem: string;
let edPem: string;

beforeAll(async () => {
  rsa = await generateKeyPair("RS256", { extractable: true });
  rsaOther = await generateKeyPair("RS256", { extractable: true });
  ec = await generateKeyPair("ES256", { extractable: true });
  ed = await generateKeyPair("EdDSA", { extractable: true, crv: "Ed25519" });
  rsaPem = await exportSPKI(rsa.publicKey);
  ecPem = await exportSPKI(ec.publicKey);
  edPem = await exportSPKI(ed.publicKey);
});

describe("development mode", () => {
  test("no key configured → null for any token, including none", async () => {
    const authenticate = createAuthenticator({});
    expect(await authenticate(null)).toBeNull();
    expect(await authenticate("garbage")).toBeNull();
    expect(isAuthConfigured({})).toBe(false);
    expect(isAuthConfigured(undefined)).toBe(false);
    expect(isAuthConfigured({ secret: SECRET })).toBe(true);
  });
});

describe("HS256", () => {
  const config = { secret: SECRET };

  test("valid token → user id, claims, allow-all ACL", async () => {
    const token = await sign(enc(SECRET), { claims: { role: "admin" } });
    const result = await createAuthenticator(config)(token);
    expect(result?.userId).toBe("user-1");
    expect(result?.claims.role).toBe("admin");
    expect(result?.acl).toBeNull();
  });

  test("missing token → AUTH_REQUIRED", async () => {
    expect((await rejection(config, null)).code).toBe("AUTH_REQUIRED");
    expect((await rejection(config, "")).code).toBe("AUTH_REQUIRED");
  });

  test("wrong signature → AUTH_FAILED", async () => {
    const token = await sign(enc("another-secret-that-is-long-enough-0000"));
    const error = await rejection(config, token);
    expect(error.code).toBe("AUTH_FAILED");
    expect(error.message).toBe("invalid signature");
  });

  test("tampered payload → AUTH_FAILED", async () => {
    const token = await sign(enc(SECRET));
    const [h, , s] = token.split(".");
    const forged = `${h}.${base64url.encode(enc(JSON.stringify({ sub: "admin", exp: nowSeconds() + 60 })))}.${s}`;
    expect((await rejection(config, forged)).message).toBe("invalid signature");
  });

  test("malformed tokens → AUTH_FAILED, never a crash", async () => {
    for (const bad of ["x", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.%%%.sig", "\u0000\u0001", "Bearer abc"]) {
      const error = await rejection(config, bad);
      expect(error.code).toBe("AUTH_FAILED");
    }
  });

  test("secret shorter than 32 bytes is a configuration error", () => {
    expect(() => createAuthenticator({ secret: "short" })).toThrow(AuthConfigError);
    expect(() => createAuthenticator({ secret: SECRET, previousSecret: "short" })).toThrow(AuthConfigError);
    expect(() => createAuthenticator({ secret: new Uint8Array(31) })).toThrow(AuthConfigError);
    expect(() => createAuthenticator({ secret: new Uint8Array(32) })).not.toThrow();
  });

  test("binary secret works", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(48));
    const result = await createAuthenticator({ secret })(await sign(secret));
    expect(result?.userId).toBe("user-1");
  });
});

describe("time claims", () => {
  const config = { secret: SECRET };

  test("exp is required", async () => {
    const token = await sign(enc(SECRET), { exp: null });
    expect((await rejection(config, token)).message).toBe("token has no valid exp");
  });

  test("expired beyond the 30 s leeway → rejected", async () => {
    const token = await sign(enc(SECRET), { exp: nowSeconds() - 31 });
    expect((await rejection(config, token)).message).toBe("token expired");
  });

  test("expired within the 30 s leeway → accepted", async () => {
    const token = await sign(enc(SECRET), { exp: nowSeconds() - 20 });
    expect((await createAuthenticator(config)(token))?.userId).toBe("user-1");
  });

  test("nbf in the future beyond the leeway → rejected", async () => {
    const token = await sign(enc(SECRET), { claims: { nbf: nowSeconds() + 60 } });
    expect((await rejection(config, token)).message).toBe("token not yet valid");
  });

  test("nbf within the leeway → accepted", async () => {
    const token = await sign(enc(SECRET), { claims: { nbf: nowSeconds() + 20 } });
    expect((await createAuthenticator(config)(token))?.userId).toBe("user-1");
  });

  test("injected clock and custom leeway are honoured", async () => {
    const exp = nowSeconds() + 100;
    const token = await sign(enc(SECRET), { exp });
    const later = { secret: SECRET, now: () => (exp + 5) * 1000, leewaySeconds: 0 };
    expect((await rejection(later, token)).message).toBe("token expired");
    const lenient = { secret: SECRET, now: () => (exp + 5) * 1000, leewaySeconds: 10 };
    expect((await createAuthenticator(lenient)(token))?.userId).toBe("user-1");
  });

  test("non-numeric exp → rejected", async () => {
    const token = await sign(enc(SECRET), { exp: null, claims: { exp: "tomorrow" as unknown as number } });
    expect((await rejection(config, token)).code).toBe("AUTH_FAILED");
  });
});

describe("sub", () => {
  const config = { secret: SECRET };
  for (const [label, sub] of [["empty", ""], ["number", 42], ["object", { id: 1 }]] as const) {
    test(`${label} sub → rejected`, async () => {
      const token = await sign(enc(SECRET), { sub });
      expect((await rejection(config, token)).code).toBe("AUTH_FAILED");
    });
  }

  test("missing sub → rejected", async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(enc(SECRET));
    expect((await rejection(config, token)).message).toBe("token sub must be a non-empty string");
  });
});

describe("issuer and audience", () => {
  const config = { secret: SECRET, issuer: "my-app", audience: "my-api" };

  test("matching iss and aud → accepted", async () => {
    const token = await sign(enc(SECRET), { claims: { iss: "my-app", aud: ["other", "my-api"] } });
    expect((await createAuthenticator(config)(token))?.userId).toBe("user-1");
  });

  test("wrong issuer → rejected", async () => {
    const token = await sign(enc(SECRET), { claims: { iss: "evil", aud: "my-api" } });
    expect((await rejection(config, token)).message).toBe("token issuer not accepted");
  });

  test("missing issuer → rejected", async () => {
    const token = await sign(enc(SECRET), { claims: { aud: "my-api" } });
    expect((await rejection(config, token)).code).toBe("AUTH_FAILED");
  });

  test("wrong audience → rejected", async () => {
    const token = await sign(enc(SECRET), { claims: { iss: "my-app", aud: "other" } });
    expect((await rejection(config, token)).message).toBe("token audience not accepted");
  });

  test("not configured → not checked", async () => {
    const token = await sign(enc(SECRET), { claims: { iss: "anyone", aud: "anything" } });
    expect((await createAuthenticator({ secret: SECRET })(token))?.userId).toBe("user-1");
  });
});

describe("algorithm pinning", () => {
  test("alg none → rejected", async () => {
    const token = unsignedToken({ alg: "none", typ: "JWT" }, { sub: "admin", exp: nowSeconds() + 60 });
    const error = await rejection({ secret: SECRET }, token);
    expect(error.message).toBe("algorithm none not allowed");
  });

  test("alg none with a public key config → rejected", async () => {
    const token = unsignedToken({ alg: "none" }, { sub: "admin", exp: nowSeconds() + 60 });
    expect((await rejection({ publicKey: rsaPem }, token)).code).toBe("AUTH_FAILED");
  });

  test("RS256 public key used as an HS256 secret → rejected (algorithm confusion)", async () => {
    const token = await sign(enc(rsaPem), { alg: "HS256" });
    const error = await rejection({ publicKey: rsaPem }, token);
    expect(error.message).toBe("algorithm HS256 not allowed");
  });

  test("confusion also rejected when both HS256 and RS256 are allowed", async () => {
    const config: AuthConfig = { secret: SECRET, publicKey: rsaPem, algorithms: ["HS256", "RS256"] };
    const forged = await sign(enc(rsaPem), { alg: "HS256" });
    expect((await rejection(config, forged)).message).toBe("invalid signature");
    const genuine = await sign(rsa.privateKey, { alg: "RS256" });
    expect((await createAuthenticator(config)(genuine))?.userId).toBe("user-1");
  });

  test("HS384 token with only HS256 allowed → rejected", async () => {
    const token = await sign(enc(SECRET), { alg: "HS384" });
    expect((await rejection({ secret: SECRET }, token)).message).toBe("algorithm HS384 not allowed");
  });

  test("missing alg header → rejected", async () => {
    const token = unsignedToken({ typ: "JWT" }, { sub: "a", exp: nowSeconds() + 60 });
    expect((await rejection({ secret: SECRET }, token)).message).toBe("algorithm (missing) not allowed");
  });

  test("unsupported configured algorithm → configuration error", () => {
    expect(() => createAuthenticator({ secret: SECRET, algorithms: ["none" as "HS256"] })).toThrow(AuthConfigError);
    expect(() => createAuthenticator({ secret: SECRET, algorithms: ["RS256"] })).toThrow(AuthConfigError);
    expect(() => createAuthenticator({ publicKey: rsaPem, algorithms: ["HS256"] })).toThrow(AuthConfigError);
  });
});

describe("HS384 / HS512", () => {
  for (const alg of ["HS384", "HS512"] as const) {
    test(`${alg} accepted when configured`, async () => {
      const token = await sign(enc(SECRET), { alg });
      expect((await createAuthenticator({ secret: SECRET, algorithms: [alg] })(token))?.userId).toBe("user-1");
    });
  }

  test("HS256 token rejected when only HS512 is configured", async () => {
    const token = await sign(enc(SECRET), { alg: "HS256" });
    expect((await rejection({ secret: SECRET, algorithms: ["HS512"] }, token)).code).toBe("AUTH_FAILED");
  });
});

describe("public keys", () => {
  test("RS256 with a PEM key (algorithm inferred)", async () => {
    const token = await sign(rsa.privateKey, { alg: "RS256" });
    expect((await createAuthenticator({ publicKey: rsaPem })(token))?.userId).toBe("user-1");
  });

  test("RS256 signed by another key → rejected", async () => {
    const token = await sign(rsaOther.privateKey, { alg: "RS256" });
    expect((await rejection({ publicKey: rsaPem }, token)).message).toBe("invalid signature");
  });

  test("ES256 with a PEM key", async () => {
    const token = await sign(ec.privateKey, { alg: "ES256" });
    expect((await createAuthenticator({ publicKey: ecPem })(token))?.userId).toBe("user-1");
  });

  test("ES256 with a JWK", async () => {
    const token = await sign(ec.privateKey, { alg: "ES256" });
    const jwk = await exportJWK(ec.publicKey);
    expect((await createAuthenticator({ publicKey: jwk })(token))?.userId).toBe("user-1");
  });

  test("EdDSA with a PEM key and with a CryptoKey", async () => {
    const token = await sign(ed.privateKey, { alg: "EdDSA" });
    expect((await createAuthenticator({ publicKey: edPem })(token))?.userId).toBe("user-1");
    expect((await createAuthenticator({ publicKey: ed.publicKey })(token))?.userId).toBe("user-1");
  });

  test("ES256 token against an RSA key → rejected", async () => {
    const token = await sign(ec.privateKey, { alg: "ES256" });
    expect((await rejection({ publicKey: rsaPem }, token)).code).toBe("AUTH_FAILED");
    expect((await rejection({ publicKey: rsaPem, algorithms: ["RS256", "ES256"] }, token)).code).toBe("AUTH_FAILED");
  });

  test("private key given as the public key → configuration error", async () => {
    const { exportPKCS8 } = await import("jose");
    const pkcs8 = await exportPKCS8(rsa.privateKey);
    expect(() => createAuthenticator({ publicKey: pkcs8 })).toThrow(AuthConfigError);
    const privateJwk = await exportJWK(ec.privateKey);
    expect(() => createAuthenticator({ publicKey: privateJwk })).toThrow(AuthConfigError);
  });

  test("garbage PEM → configuration error", () => {
    expect(() => createAuthenticator({ publicKey: "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----" })).toThrow(AuthConfigError);
  });
});

describe("rotation and kid", () => {
  test("previous secret still verifies; unknown secret does not", async () => {
    const config = { secret: SECRET, previousSecret: OLD_SECRET };
    const authenticate = createAuthenticator(config);
    expect((await authenticate(await sign(enc(SECRET))))?.userId).toBe("user-1");
    expect((await authenticate(await sign(enc(OLD_SECRET))))?.userId).toBe("user-1");
    expect((await rejection(config, await sign(enc("a-third-secret-that-is-long-enough-00")))).message).toBe("invalid signature");
  });

  test("without previousSecret the old secret fails", async () => {
    expect((await rejection({ secret: SECRET }, await sign(enc(OLD_SECRET)))).message).toBe("invalid signature");
  });

  test("required kid: missing → rejected, wrong → rejected, right → accepted", async () => {
    const config = { secret: SECRET, kid: "k2" };
    expect((await rejection(config, await sign(enc(SECRET)))).message).toBe("token has no kid");
    expect((await rejection(config, await sign(enc(SECRET), { kid: "k9" }))).message).toBe('unknown kid "k9"');
    expect((await createAuthenticator(config)(await sign(enc(SECRET), { kid: "k2" })))?.userId).toBe("user-1");
  });

  test("kid selects the key during rotation", async () => {
    const config = { secret: SECRET, kid: "new", previousSecret: OLD_SECRET, previousKid: "old" };
    const authenticate = createAuthenticator(config);
    expect((await authenticate(await sign(enc(OLD_SECRET), { kid: "old" })))?.userId).toBe("user-1");
    expect((await authenticate(await sign(enc(SECRET), { kid: "new" })))?.userId).toBe("user-1");
    // Right secret, wrong kid: the kid pins the key, so this fails.
    expect((await rejection(config, await sign(enc(OLD_SECRET), { kid: "new" }))).message).toBe("invalid signature");
  });

  test("requireKid: true demands a kid, a list restricts its values", async () => {
    const any = { secret: SECRET, requireKid: true };
    expect((await rejection(any, await sign(enc(SECRET)))).message).toBe("token has no kid");
    expect((await createAuthenticator(any)(await sign(enc(SECRET), { kid: "whatever" })))?.userId).toBe("user-1");
    const listed = { secret: SECRET, requireKid: ["a", "b"] };
    expect((await createAuthenticator(listed)(await sign(enc(SECRET), { kid: "b" })))?.userId).toBe("user-1");
    expect((await rejection(listed, await sign(enc(SECRET), { kid: "c" }))).message).toBe('unknown kid "c"');
    expect(() => createAuthenticator({ secret: SECRET, requireKid: [] })).toThrow(AuthConfigError);
  });

  test("without requireKid a kid header is optional", async () => {
    expect((await createAuthenticator({ secret: SECRET })(await sign(enc(SECRET), { kid: "x" })))?.userId).toBe("user-1");
  });

  test("previous public key during rotation", async () => {
    const config = { publicKey: rsaPem, previousPublicKey: await exportSPKI(rsaOther.publicKey) };
    const authenticate = createAuthenticator(config);
    expect((await authenticate(await sign(rsa.privateKey, { alg: "RS256" })))?.userId).toBe("user-1");
    expect((await authenticate(await sign(rsaOther.privateKey, { alg: "RS256" })))?.userId).toBe("user-1");
  });
});

describe("token size", () => {
  test("token over 8 KiB → rejected unparsed", async () => {
    const huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    expect((await rejection({ secret: SECRET }, huge)).message).toBe(`token larger than ${MAX_TOKEN_BYTES} bytes`);
  });

  test("a validly signed token over 8 KiB is still rejected", async () => {
    const token = await sign(enc(SECRET), { claims: { pad: "x".repeat(9000) } });
    expect(token.length).toBeGreaterThan(MAX_TOKEN_BYTES);
    expect((await rejection({ secret: SECRET }, token)).message).toBe(`token larger than ${MAX_TOKEN_BYTES} bytes`);
  });

  test("multi-byte characters count as bytes", async () => {
    const token = "é".repeat(MAX_TOKEN_BYTES / 2 + 1);
    expect((await rejection({ secret: SECRET }, token)).message).toBe(`token larger than ${MAX_TOKEN_BYTES} bytes`);
  });
});

describe("wse_topics claim", () => {
  test("compiled into the ACL", async () => {
    const token = await sign(enc(SECRET), { claims: { wse_topics: { allow: ["prices.*"], deny: ["prices.secret"] } } });
    const result = await createAuthenticator({ secret: SECRET })(token);
    expect(result?.acl?.allows("prices.eur")).toBe(true);
    expect(result?.acl?.allows("prices.secret")).toBe(false);
    expect(result?.acl?.allows("chat")).toBe(false);
  });

  test("malformed claim → AUTH_FAILED (fail closed)", async () => {
    const token = await sign(enc(SECRET), { claims: { wse_topics: { allow: "prices.*" } } });
    const error = await rejection({ secret: SECRET }, token);
    expect(error.message).toStartWith("invalid wse_topics claim");
  });
});

describe("JWKS URL", () => {
  let server: ReturnType<typeof Bun.serve>;
  let fetches = 0;
  let keys: object[] = [];

  beforeAll(async () => {
    const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" };
    const ecJwk = { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" };
    keys = [rsaJwk, ecJwk];
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch() {
        fetches++;
        return Response.json({ keys });
      },
    });
  });
  afterAll(() => server.stop(true));

  const url = () => `http://127.0.0.1:${server.port}/.well-known/jwks.json`;

  test("verifies RS256 and ES256 by kid and caches the key set", async () => {
    fetches = 0;
    const authenticate = createAuthenticator({ jwksUrl: url() });
    expect((await authenticate(await sign(rsa.privateKey, { alg: "RS256", kid: "rsa-1" })))?.userId).toBe("user-1");
    expect((await authenticate(await sign(ec.privateKey, { alg: "ES256", kid: "ec-1" })))?.userId).toBe("user-1");
    for (let i = 0; i < 5; i++) await authenticate(await sign(rsa.privateKey, { alg: "RS256", kid: "rsa-1" }));
    expect(fetches).toBe(1);
  });

  test("unknown kid → AUTH_FAILED; refetch limited by the cooldown", async () => {
    fetches = 0;
    const config = { jwksUrl: url() };
    const authenticate = createAuthenticator(config);
    await authenticate(await sign(rsa.privateKey, { alg: "RS256", kid: "rsa-1" }));
    const stranger = await sign(rsaOther.privateKey, { alg: "RS256", kid: "nobody" });
    for (let i = 0; i < 3; i++) {
      await expect(authenticate(stranger)).rejects.toMatchObject({ code: "AUTH_FAILED", message: "no matching key in JWKS" });
    }
    expect(fetches).toBeLessThanOrEqual(2);
  });

  test("forged signature with a known kid → rejected", async () => {
    const token = await sign(rsaOther.privateKey, { alg: "RS256", kid: "rsa-1" });
    expect((await rejection({ jwksUrl: url() }, token)).message).toBe("invalid signature");
  });

  test("HS256 token against a JWKS config → rejected", async () => {
    const token = await sign(enc(SECRET), { alg: "HS256", kid: "rsa-1" });
    expect((await rejection({ jwksUrl: url() }, token)).message).toBe("algorithm HS256 not allowed");
  });

  test("unreachable JWKS → AUTH_FAILED, not a crash", async () => {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const deadPort = probe.port;
    probe.stop(true);
    const token = await sign(rsa.privateKey, { alg: "RS256", kid: "rsa-1" });
    const error = await rejection({ jwksUrl: `http://127.0.0.1:${deadPort}/jwks`, jwksTimeoutMs: 2000 }, token);
    expect(error.code).toBe("AUTH_FAILED");
  });

  test("invalid JWKS URL → configuration error", () => {
    expect(() => createAuthenticator({ jwksUrl: "not a url" })).toThrow(AuthConfigError);
  });
});

describe("connectionDeadline", () => {
  test("exp plus the leeway (default 30 s), in ms", () => {
    expect(connectionDeadline({ exp: 1_000 }, { secret: SECRET })).toBe(1_030_000);
    expect(connectionDeadline({ exp: 1_000 }, { secret: SECRET, leewaySeconds: 0 })).toBe(1_000_000);
    expect(connectionDeadline({ exp: 1_000.5 }, { leewaySeconds: 2 })).toBe(1_002_500);
    expect(connectionDeadline({ exp: 1_000 }, undefined)).toBe(1_030_000);
  });

  test("never without a numeric exp, or with closeOnExpiry: false", () => {
    for (const claims of [{}, { exp: "1000" }, { exp: null }, { exp: Number.NaN }, { exp: Infinity }]) {
      expect(connectionDeadline(claims, { secret: SECRET })).toBe(Infinity);
    }
    expect(connectionDeadline({ exp: 1_000 }, { secret: SECRET, closeOnExpiry: false })).toBe(Infinity);
    expect(connectionDeadline({ exp: 1_000 }, { secret: SECRET, closeOnExpiry: true })).toBe(1_030_000);
  });
});
