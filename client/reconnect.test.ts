import { describe, expect, test } from "bun:test";
import { backoffCeiling, DEFAULT_RECONNECT, reconnectDelay, resolveReconnectOptions } from "./reconnect.ts";

const noJitter = (mode: "exponential" | "linear" | "fibonacci" | "adaptive", extra = {}) =>
  resolveReconnectOptions({ mode, jitter: false, baseDelay: 100, maxDelay: 100_000, factor: 2, ...extra });

describe("reconnect delays", () => {
  test("defaults match the Python client (ms) and attempts are unlimited", () => {
    expect(DEFAULT_RECONNECT.mode).toBe("exponential");
    expect(DEFAULT_RECONNECT.baseDelay).toBe(1000);
    expect(DEFAULT_RECONNECT.maxDelay).toBe(30_000);
    expect(DEFAULT_RECONNECT.factor).toBe(1.5);
    expect(DEFAULT_RECONNECT.jitter).toBe(true);
    expect(DEFAULT_RECONNECT.maxAttempts).toBe(Infinity);
    expect(resolveReconnectOptions().enabled).toBe(true);
    expect(resolveReconnectOptions(false).enabled).toBe(false);
  });

  test("exponential grows by factor", () => {
    const o = noJitter("exponential");
    expect([0, 1, 2, 3, 4].map((n) => reconnectDelay(n, o))).toEqual([100, 200, 400, 800, 1600]);
  });

  test("linear grows by baseDelay", () => {
    const o = noJitter("linear");
    expect([0, 1, 2, 3].map((n) => reconnectDelay(n, o))).toEqual([100, 200, 300, 400]);
  });

  test("fibonacci follows 1 1 2 3 5 8", () => {
    const o = noJitter("fibonacci");
    expect([0, 1, 2, 3, 4, 5].map((n) => reconnectDelay(n, o))).toEqual([100, 100, 200, 300, 500, 800]);
  });

  test("adaptive backs off slower on worse connections", () => {
    const o = noJitter("adaptive");
    expect(backoffCeiling(1, o, "excellent")).toBe(200);
    expect(backoffCeiling(1, o, "good")).toBe(300);
    expect(backoffCeiling(1, o, "fair")).toBe(400);
    expect(backoffCeiling(1, o, "poor")).toBe(600);
    expect(reconnectDelay(1, o, { quality: "poor" })).toBe(600);
  });

  test("every mode is capped at maxDelay, even for huge attempt numbers", () => {
    for (const mode of ["exponential", "linear", "fibonacci", "adaptive"] as const) {
      const o = noJitter(mode, { maxDelay: 5000 });
      expect(reconnectDelay(10_000, o, { quality: "poor" })).toBe(5000);
    }
  });

  test("full jitter is uniform in [0, ceiling]", () => {
    const o = resolveReconnectOptions({ baseDelay: 1000, factor: 2 });
    expect(reconnectDelay(2, o, { random: () => 0 })).toBe(0);
    expect(reconnectDelay(2, o, { random: () => 0.5 })).toBe(2000);
    expect(reconnectDelay(2, o, { random: () => 0.999999 })).toBe(3999);
    for (let i = 0; i < 200; i++) {
      const d = reconnectDelay(3, o);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });

  test("bad options give clear errors", () => {
    expect(() => resolveReconnectOptions({ mode: "quadratic" as never })).toThrow(/reconnect.mode/);
    expect(() => resolveReconnectOptions({ baseDelay: -1 })).toThrow(/baseDelay/);
    expect(() => resolveReconnectOptions({ maxDelay: Number.NaN })).toThrow(/maxDelay/);
    expect(() => resolveReconnectOptions({ factor: 0.5 })).toThrow(/factor/);
  });
});
