import { describe, expect, test } from "bun:test";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { importHmacKey, isPlainHmacHeader, verifyHmacJwt } from "./hmac-jwt.ts";

const secret = new TextEncoder().encode("hmac-jwt-test-secret-0123456789abcdef");
const other = new TextEncoder().encode("another-secret-0123456789abcdef-xyz!!");
const key = importHmacKey(secret);
const now = Math.floor(Date.now() / 1000);
const options = { requiredClaims: ["exp"], clockTolerance: 30 };

function sign(claims: Record<string, unknown>, alg = "HS256", with_ = secret): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(with_);
}

/** The outcome as an error class name (or "ok"), for comparing with jose's own `jwtVerify`. */
async function outcome(run: () => unknown): Promise<string> {
  try {
    await run();
    return "ok";
  } catch (error) {
    return (error as Error).constructor.name;
  }
}

describe("verifyHmacJwt", () => {
  test("accepts what jose accepts and rejects with the same error class", async () => {
    const tokens: Array<[string, string]> = [
      [await sign({ sub: "a", exp: now + 60 }), "HS256"],
      [await sign({ sub: "a", exp: now + 60 }, "HS384"), "HS384"],
      [await sign({ sub: "a", exp: now + 60 }, "HS512"), "HS512"],
      [await sign({ sub: "a", exp: now - 3600 }), "HS256"], // expired
      [await sign({ sub: "a" }), "HS256"], // no exp
      [await sign({ sub: "a", exp: now + 60, nbf: now + 3600 }), "HS256"], // not yet valid
      [await sign({ sub: "a", exp: "soon" }), "HS256"], // exp not a number
      [await sign({ sub: "a", exp: now + 60 }, "HS256", other), "HS256"], // other secret
    ];
    const good = tokens[0]![0];
    const [h, p, s] = good.split(".");
    tokens.push([`${h}.${p}.${s!.slice(0, -2)}`, "HS256"]); // truncated signature
    tokens.push([`${h}.${p}.${s!.slice(0, -1)}${s!.endsWith("A") ? "B" : "A"}`, "HS256"]); // flipped bit
    tokens.push([`${h}.${p}.`, "HS256"]); // no signature
    tokens.push([`${h}.${p}`, "HS256"]); // two parts
    tokens.push([`${h}.${p}.${s}.x`, "HS256"]); // four parts
    tokens.push([`${h}.${p}.${s}!`, "HS256"]); // not base64url
    tokens.push([`${h}.bm90IGpzb24.${s}`, "HS256"]); // payload swapped (signature no longer matches)
    for (const [token, alg] of tokens) {
      const ours = await outcome(() => verifyHmacJwt(token, alg, key, options));
      const theirs = await outcome(() => jwtVerify(token, secret, { ...options, algorithms: [alg] }));
      expect(`${token.slice(-12)} ${ours}`).toBe(`${token.slice(-12)} ${theirs}`);
    }
  });

  test("a payload that is not a JSON object is malformed even with a valid signature", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "HS256" })).toString("base64url");
    const body = Buffer.from("[1,2]").toString("base64url");
    const { createHmac } = await import("node:crypto");
    const sig = createHmac("sha256", secret).update(`${header}.${body}`).digest("base64url");
    expect(() => verifyHmacJwt(`${header}.${body}.${sig}`, "HS256", key, options)).toThrow(joseErrors.JWTInvalid);
  });

  test("returns the claims; issuer and audience are checked", async () => {
    const token = await sign({ sub: "u", exp: now + 60, iss: "me", aud: ["x", "y"] });
    expect(verifyHmacJwt(token, "HS256", key, options).sub).toBe("u");
    expect(verifyHmacJwt(token, "HS256", key, { ...options, issuer: "me", audience: "y" }).sub).toBe("u");
    expect(() => verifyHmacJwt(token, "HS256", key, { ...options, issuer: "you" })).toThrow(joseErrors.JWTClaimValidationFailed);
    expect(() => verifyHmacJwt(token, "HS256", key, { ...options, audience: "z" })).toThrow(joseErrors.JWTClaimValidationFailed);
  });

  test("refuses non-HMAC algorithms", async () => {
    const token = await sign({ sub: "u", exp: now + 60 });
    expect(() => verifyHmacJwt(token, "RS256", key, options)).toThrow(joseErrors.JOSEAlgNotAllowed);
  });
});

test("isPlainHmacHeader leaves crit/b64 tokens and other algorithms to jose", () => {
  expect(isPlainHmacHeader({ alg: "HS256", typ: "JWT", kid: "k" })).toBe(true);
  expect(isPlainHmacHeader({ alg: "HS512" })).toBe(true);
  expect(isPlainHmacHeader({ alg: "HS256", crit: ["b64"], b64: false })).toBe(false);
  expect(isPlainHmacHeader({ alg: "HS256", b64: true })).toBe(false);
  expect(isPlainHmacHeader({ alg: "RS256" })).toBe(false);
  expect(isPlainHmacHeader({ alg: "none" })).toBe(false);
  expect(isPlainHmacHeader({ alg: "toString" })).toBe(false);
});
