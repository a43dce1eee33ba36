/**
 * PROTOCOL.md §1: where the token is read from and every way a token can be refused. A refused
 * connection completes the upgrade, gets exactly one text error frame
 * (`AUTH_REQUIRED`/`AUTH_FAILED`, with message and an ISO-ms-Z timestamp) and is closed 4401.
 * Each refusal has a positive control beside it, so a server that refuses everything fails.
 */
import { afterAll, describe, expect } from "bun:test";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { ClientPool, payloadOf, testSpawned, testWith } from "./support.ts";
import { startTarget, type Target } from "./target.ts";
import type { WireClient } from "./wire.ts";

const ISSUER = "https://issuer.conformance.test";
const AUDIENCE = "wse-conformance";
const KID = "conformance-key-1";

const target = await startTarget({ jwtIssuer: ISSUER, jwtAudience: AUDIENCE, jwtKid: KID });
afterAll(() => target.stop());
const pool = new ClientPool();

const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Asserts the connection was accepted: server_ready carries the expected user id, no close. */
async function expectAccepted(client: WireClient, userId = "user-1"): Promise<void> {
  const ready = await client.waitForType("server_ready", 5000);
  expect(payloadOf(ready).details.user_id).toBe(userId);
  const { hello } = await client.handshake();
  expect(payloadOf(hello).connection_id).toBe(payloadOf(ready).details.connection_id);
  expect(client.closeInfo).toBeNull();
}

/** Asserts the §1 refusal: one text error frame with `code`, then close 4401. */
async function expectRefused(client: WireClient, code: "AUTH_REQUIRED" | "AUTH_FAILED"): Promise<void> {
  const close = await client.waitClose(5000);
  expect(close.code).toBe(4401);
  expect(client.frames.length).toBe(1);
  const frame = client.frames[0]!;
  expect(frame.kind).toBe("text");
  const env = frame.envelope!;
  expect(env.c).toBe("WSE");
  expect(env.t).toBe("error");
  expect(env.v).toBe(1);
  const p = payloadOf(env);
  expect(p.code).toBe(code);
  expect(typeof p.message).toBe("string");
  expect(p.message.length).toBeGreaterThan(0);
  expect(p.timestamp).toMatch(ISO_MS_Z);
}

/** Connects presenting `token` the target's usual way (the transport is not under test). */
async function withToken(token: string): Promise<WireClient> {
  return pool.connectWithToken(target, token);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

describe("where the token is read from", () => {
  testWith(target, ["jwt", "query-token"], "query ?token= is accepted", async () => {
    await expectAccepted(await pool.connect(target.url({ token: await target.mintToken({ sub: "q-user" }) })), "q-user");
  });

  testWith(target, ["jwt"], "cookie access_token is accepted", async () => {
    const token = await target.mintToken({ sub: "cookie-user" });
    const client = await pool.connect(target.url(), { headers: { Cookie: `theme=dark; access_token=${token}` } });
    await expectAccepted(client, "cookie-user");
  });

  testWith(target, ["jwt"], "Authorization: Bearer is accepted", async () => {
    const token = await target.mintToken({ sub: "bearer-user" });
    const client = await pool.connect(target.url(), { headers: { Authorization: `Bearer ${token}` } });
    await expectAccepted(client, "bearer-user");
  });

  testWith(target, ["jwt"], "the cookie wins over a bad bearer header", async () => {
    const good = await target.mintToken({ sub: "cookie-first" });
    const client = await pool.connect(target.url(), {
      headers: { Cookie: `access_token=${good}`, Authorization: "Bearer not-a-jwt" },
    });
    await expectAccepted(client, "cookie-first");
  });

  testWith(target, ["jwt", "query-token"], "first match wins: a bad cookie is not rescued by a good ?token=", async () => {
    const good = await target.mintToken({ sub: "query-user" });
    const client = await pool.connect(target.url({ token: good }), { headers: { Cookie: "access_token=garbage.garbage.garbage" } });
    await expectRefused(client, "AUTH_FAILED");
  });

  testWith(target, ["jwt", "query-token"], "the bearer header wins over a bad ?token=", async () => {
    const good = await target.mintToken({ sub: "bearer-first" });
    const client = await pool.connect(target.url({ token: "bad" }), { headers: { Authorization: `Bearer ${good}` } });
    await expectAccepted(client, "bearer-first");
  });
});

describe("refusals → error frame then 4401", () => {
  testWith(target, ["jwt"], "no token → AUTH_REQUIRED", async () => {
    await expectRefused(await pool.connect(target.url()), "AUTH_REQUIRED");
  });

  testWith(target, ["jwt"], "not a JWT → AUTH_FAILED", async () => {
    await expectRefused(await withToken("this-is-not-a-jwt"), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "bad signature (other secret) → AUTH_FAILED", async () => {
    const token = await target.mintToken({}, { secret: "another-secret-that-is-at-least-32-bytes-long" });
    await expectRefused(await withToken(token), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "tampered payload (signature no longer matches) → AUTH_FAILED", async () => {
    const token = await target.mintToken({ sub: "mallory" });
    const [h, , s] = token.split(".");
    const forged = `${h}.${base64url({ sub: "admin", exp: nowSeconds() + 300, iss: ISSUER, aud: AUDIENCE })}.${s}`;
    await expectRefused(await withToken(forged), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "expired beyond the 30 s leeway → AUTH_FAILED", async () => {
    await expectRefused(await withToken(await target.mintToken({}, { expiresInSeconds: -120 })), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "expired within the 30 s leeway is still accepted", async () => {
    await expectAccepted(await withToken(await target.mintToken({}, { expiresInSeconds: -10 })));
  });

  testWith(target, ["jwt"], "no exp claim → AUTH_FAILED", async () => {
    await expectRefused(await withToken(await target.mintToken({}, { expiresInSeconds: null })), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "nbf in the future beyond the leeway → AUTH_FAILED", async () => {
    await expectRefused(await withToken(await target.mintToken({ nbf: nowSeconds() + 120 })), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "nbf within the leeway is accepted", async () => {
    await expectAccepted(await withToken(await target.mintToken({ nbf: nowSeconds() + 10 })));
  });

  testWith(target, ["jwt"], "alg none (unsigned) → AUTH_FAILED", async () => {
    const claims = { sub: "user-1", exp: nowSeconds() + 300, iss: ISSUER, aud: AUDIENCE };
    const token = `${base64url({ alg: "none", typ: "JWT", kid: KID })}.${base64url(claims)}.`;
    await expectRefused(await withToken(token), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "an RS256 token on an HS256 server → AUTH_FAILED", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const token = await new SignJWT({ sub: "user-1", iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: "RS256", kid: KID })
      .setExpirationTime("5m")
      .sign(privateKey);
    await expectRefused(await withToken(token), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "HS512 with the right secret is refused when HS256 is configured", async () => {
    await expectRefused(await withToken(await target.mintToken({}, { alg: "HS512" })), "AUTH_FAILED");
  });

  testWith(target, ["jwt", "issuer-audience"], "wrong iss → AUTH_FAILED", async () => {
    await expectRefused(await withToken(await target.mintToken({ iss: "https://evil.test" })), "AUTH_FAILED");
  });

  testWith(target, ["jwt", "issuer-audience"], "wrong aud → AUTH_FAILED", async () => {
    await expectRefused(await withToken(await target.mintToken({ aud: "someone-else" })), "AUTH_FAILED");
  });

  testWith(target, ["jwt", "kid"], "wrong kid → AUTH_FAILED", async () => {
    await expectRefused(await withToken(await target.mintToken({}, { kid: "some-other-kid" })), "AUTH_FAILED");
  });

  testWith(target, ["jwt", "kid"], "missing kid when one is required → AUTH_FAILED", async () => {
    await expectRefused(await withToken(await target.mintToken({}, { kid: null })), "AUTH_FAILED");
  });

  for (const [label, claims] of [
    ["empty sub", { sub: "" }],
    ["numeric sub", { sub: 42 as unknown as string }],
  ] as [string, JWTPayload][]) {
    testWith(target, ["jwt"], `${label} → AUTH_FAILED`, async () => {
      await expectRefused(await withToken(await target.mintToken(claims)), "AUTH_FAILED");
    });
  }

  testWith(target, ["jwt"], "missing sub → AUTH_FAILED", async () => {
    const secret = new TextEncoder().encode(target.jwtSecret!);
    const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: "HS256", kid: KID })
      .setExpirationTime("5m")
      .sign(secret);
    await expectRefused(await withToken(token), "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "a validly signed token over 8 KiB → AUTH_FAILED", async () => {
    const token = await target.mintToken({ pad: "x".repeat(9000) });
    expect(token.length).toBeGreaterThan(8192);
    const client = await pool.connect(target.url(), { headers: { Authorization: `Bearer ${token}` } });
    await expectRefused(client, "AUTH_FAILED");
  });

  testWith(target, ["jwt"], "a validly signed token just under 8 KiB is accepted", async () => {
    const token = await target.mintToken({ pad: "x".repeat(5500) });
    expect(token.length).toBeLessThan(8192);
    const client = await pool.connect(target.url(), { headers: { Authorization: `Bearer ${token}` } });
    await expectAccepted(client);
  });
});

describe("public keys from a JWKS URL (RS256)", () => {
  let jwksServer: ReturnType<typeof Bun.serve> | null = null;
  let jwksTarget: Target | null = null;
  let keys: { privateKey: CryptoKey; publicPem: string; publicJwk: Record<string, unknown> } | null = null;
  const JWKS_KID = "rsa-key-1";

  afterAll(async () => {
    await jwksTarget?.stop();
    jwksServer?.stop(true);
  });

  async function setup(): Promise<{ t: Target; k: NonNullable<typeof keys> }> {
    if (!jwksTarget || !keys) {
      const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
      const publicJwk = { ...(await exportJWK(publicKey)), kid: JWKS_KID, alg: "RS256", use: "sig" };
      keys = { privateKey: privateKey as CryptoKey, publicPem: await exportSPKI(publicKey), publicJwk };
      const body = JSON.stringify({ keys: [publicJwk] });
      jwksServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(body, { headers: { "content-type": "application/json" } }) });
      jwksTarget = await startTarget({ jwtSecret: null, jwksUrl: `http://127.0.0.1:${jwksServer.port}/.well-known/jwks.json` });
    }
    return { t: jwksTarget, k: keys };
  }

  async function rs256(privateKey: CryptoKey, kid: string, claims: JWTPayload = { sub: "rsa-user" }): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).setExpirationTime("5m").sign(privateKey);
  }

  const jwksTest = (name: string, fn: (t: Target, k: NonNullable<typeof keys>) => Promise<void>) => {
    testSpawned(name, async () => {
      const { t, k } = await setup();
      await fn(t, k);
    });
  };

  jwksTest("a valid RS256 token with a known kid is accepted", async (t, k) => {
    const client = await pool.connect(t.url({ token: await rs256(k.privateKey, JWKS_KID) }));
    const ready = await client.waitForType("server_ready");
    expect(payloadOf(ready).details.user_id).toBe("rsa-user");
  });

  jwksTest("an unknown kid → AUTH_FAILED", async (t, k) => {
    await expectRefused(await pool.connect(t.url({ token: await rs256(k.privateKey, "unknown-kid") })), "AUTH_FAILED");
  });

  jwksTest("RS256 signed by another key under the known kid → AUTH_FAILED", async (t) => {
    const other = await generateKeyPair("RS256");
    await expectRefused(await pool.connect(t.url({ token: await rs256(other.privateKey as CryptoKey, JWKS_KID) })), "AUTH_FAILED");
  });

  jwksTest("HS256/RS256 confusion: HS256 keyed with the public key PEM → AUTH_FAILED", async (t, k) => {
    const token = await new SignJWT({ sub: "attacker" })
      .setProtectedHeader({ alg: "HS256", kid: JWKS_KID })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(k.publicPem));
    await expectRefused(await pool.connect(t.url({ token })), "AUTH_FAILED");
  });

  jwksTest("HS256/RS256 confusion: HS256 keyed with the public JWK JSON → AUTH_FAILED", async (t, k) => {
    const token = await new SignJWT({ sub: "attacker" })
      .setProtectedHeader({ alg: "HS256", kid: JWKS_KID })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(k.publicJwk)));
    await expectRefused(await pool.connect(t.url({ token })), "AUTH_FAILED");
  });

  jwksTest("alg none with the known kid → AUTH_FAILED", async (t) => {
    const token = `${base64url({ alg: "none", kid: JWKS_KID })}.${base64url({ sub: "attacker", exp: nowSeconds() + 300 })}.`;
    await expectRefused(await pool.connect(t.url({ token })), "AUTH_FAILED");
  });
});

describe("origin allow-list (ext)", () => {
  let strict: Target | null = null;
  afterAll(async () => {
    await strict?.stop();
  });
  const setup = async () => (strict ??= await startTarget({ origins: ["https://app.example"] }));

  testSpawned("an allowed Origin is served", async () => {
    const t = await setup();
    const client = await pool.connect(t.url({ token: await t.mintToken({ sub: "origin-ok" }) }), { headers: { Origin: "https://app.example" } });
    const ready = await client.waitForType("server_ready");
    expect(payloadOf(ready).details.user_id).toBe("origin-ok");
  });

  testSpawned("a refused Origin → error ORIGIN_NOT_ALLOWED then close 4403", async () => {
    const t = await setup();
    const client = await pool.connect(t.url({ token: await t.mintToken() }), { headers: { Origin: "https://evil.example" } });
    const close = await client.waitClose(5000);
    expect(close.code).toBe(4403);
    expect(client.frames.length).toBe(1);
    expect(client.frames[0]!.kind).toBe("text");
    expect(payloadOf(client.frames[0]!.envelope)).toMatchObject({ code: "ORIGIN_NOT_ALLOWED" });
  });
});

describe("other key configurations", () => {
  const started: Target[] = [];
  afterAll(async () => {
    await Promise.all(started.map((t) => t.stop()));
  });
  async function spawn(config: Parameters<typeof startTarget>[0]): Promise<Target> {
    const t = await startTarget(config);
    started.push(t);
    return t;
  }
  async function sign(alg: string, key: CryptoKey | Uint8Array, sub: string): Promise<string> {
    return new SignJWT({ sub }).setProtectedHeader({ alg }).setExpirationTime("5m").sign(key);
  }
  const connectTo = (t: Target, token: string) => pool.connect(t.url({ token }));

  testSpawned("secret rotation: the previous secret still verifies, a third one does not", async () => {
    const previous = "previous-secret-that-is-at-least-32-bytes!";
    const t = await spawn({ extraEnv: { WSE_JWT_PREVIOUS_SECRET: previous } });
    const current = await connectTo(t, await t.mintToken({ sub: "current" }));
    expect(payloadOf(await current.waitForType("server_ready")).details.user_id).toBe("current");
    const old = await connectTo(t, await t.mintToken({ sub: "old" }, { secret: previous }));
    expect(payloadOf(await old.waitForType("server_ready")).details.user_id).toBe("old");
    await expectRefused(await connectTo(t, await t.mintToken({}, { secret: "a-third-secret-that-is-at-least-32-bytes!!" })), "AUTH_FAILED");
  });

  testSpawned("HS512 when configured (ext); HS256 is then refused", async () => {
    const t = await spawn({ extraEnv: { WSE_JWT_ALGORITHM: "HS512" } });
    const ok = await connectTo(t, await t.mintToken({ sub: "hs512" }, { alg: "HS512" }));
    expect(payloadOf(await ok.waitForType("server_ready")).details.user_id).toBe("hs512");
    await expectRefused(await connectTo(t, await t.mintToken()), "AUTH_FAILED");
  });

  for (const alg of ["ES256", "RS256", "EdDSA"] as const) {
    testSpawned(`${alg} with a PEM public key; a token from another key is refused`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const t = await spawn({ jwtSecret: null, extraEnv: { WSE_JWT_PUBLIC_KEY: await exportSPKI(publicKey) } });
      const ok = await connectTo(t, await sign(alg, privateKey as CryptoKey, `${alg}-user`));
      expect(payloadOf(await ok.waitForType("server_ready")).details.user_id).toBe(`${alg}-user`);
      const other = await generateKeyPair(alg);
      await expectRefused(await connectTo(t, await sign(alg, other.privateKey as CryptoKey, "intruder")), "AUTH_FAILED");
      // HS256 keyed with the PEM text (the classic confusion) is refused too.
      const pem = await exportSPKI(publicKey);
      await expectRefused(await connectTo(t, await sign("HS256", new TextEncoder().encode(pem), "attacker")), "AUTH_FAILED");
    });
  }
});
