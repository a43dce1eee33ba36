import { describe, expect, test } from "bun:test";
import {
  WSEAuthError,
  WSECircuitBreakerError,
  WSEConnectionError,
  WSEEncryptionError,
  WSEError,
  WSEProtocolError,
  WSERateLimitError,
  WSETimeoutError,
} from "./errors.ts";

describe("errors", () => {
  test("every subclass is a WSEError and an Error with its own name", () => {
    const all = [
      new WSEConnectionError("a"),
      new WSETimeoutError("b"),
      new WSEAuthError("c", { code: "AUTH_FAILED", closeCode: 4401 }),
      new WSERateLimitError("d", 250),
      new WSEProtocolError("e"),
      new WSECircuitBreakerError("f", 1000),
      new WSEEncryptionError("g"),
    ];
    const names = new Set<string>();
    for (const err of all) {
      expect(err).toBeInstanceOf(WSEError);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(err.constructor.name);
      names.add(err.name);
    }
    expect(names.size).toBe(7);
    expect(new WSEConnectionError("x")).not.toBeInstanceOf(WSEAuthError);
  });

  test("details are carried", () => {
    const cause = new Error("root");
    const err = new WSEAuthError("denied", { code: "AUTH_FAILED", closeCode: 4401, cause });
    expect(err.code).toBe("AUTH_FAILED");
    expect(err.closeCode).toBe(4401);
    expect(err.cause).toBe(cause);
    expect(new WSERateLimitError("slow down", 1500).retryAfter).toBe(1500);
    expect(new WSECircuitBreakerError("open", 42).retryAfter).toBe(42);
    expect(new WSEError("plain").code).toBeUndefined();
  });
});
