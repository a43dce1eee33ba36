/** The bearer key checks: exact matches only, whatever the lengths and characters. */
import { describe, expect, test } from "bun:test";
import { bearerKey, COMPARE_SPAN, constantTimeEquals, createKeyCheck } from "./api-key.ts";

describe("constantTimeEquals", () => {
  test("equal strings match, any difference does not", () => {
    const key = "bench-api-key-0123456789";
    expect(constantTimeEquals(key, key)).toBe(true);
    expect(constantTimeEquals(`${key}`.slice(0), key)).toBe(true);
    for (const other of ["", key.slice(0, -1), `${key}x`, `${key}\u0000`, key.replace("b", "B"), key.toUpperCase(), ` ${key}`]) {
      expect({ other, equal: constantTimeEquals(other, key) }).toEqual({ other, equal: false });
      expect({ other, equal: constantTimeEquals(key, other) }).toEqual({ other, equal: false });
    }
  });

  test("keys longer than the fixed span and non-ASCII keys are compared in full", () => {
    const long = "k".repeat(COMPARE_SPAN * 2);
    expect(constantTimeEquals(long, "k".repeat(COMPARE_SPAN * 2))).toBe(true);
    expect(constantTimeEquals(long, `${"k".repeat(COMPARE_SPAN * 2 - 1)}j`)).toBe(false);
    expect(constantTimeEquals(long, "k".repeat(COMPARE_SPAN))).toBe(false);
    expect(constantTimeEquals("ключ-🔑", "ключ-🔑")).toBe(true);
    expect(constantTimeEquals("ключ-🔑", "ключ-🔒")).toBe(false);
    // "\u0000" padding must not make a shorter key equal to a longer one ending in NULs.
    expect(constantTimeEquals("abc", "abc\u0000")).toBe(false);
  });
});

describe("createKeyCheck", () => {
  test("matches the configured key only; null (no header) never matches", () => {
    const matches = createKeyCheck("secret-key");
    expect(matches("secret-key")).toBe(true);
    expect(matches("secret-kez")).toBe(false);
    expect(matches("")).toBe(false);
    expect(matches(null)).toBe(false);
  });
});

describe("bearerKey", () => {
  test("reads `Bearer <key>` in any capitalisation, nothing else", () => {
    expect(bearerKey("Bearer abc")).toBe("abc");
    expect(bearerKey("bearer   abc  ")).toBe("abc");
    for (const header of [undefined, null, "", "Bearer", "Bearer ", "Basic abc", "Token abc", "Bearer a b", "abc"]) {
      expect(bearerKey(header)).toBeNull();
    }
  });
});
