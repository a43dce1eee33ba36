import { describe, expect, test } from "bun:test";
import { CircuitBreaker } from "./circuit-breaker.ts";

function fixture() {
  let now = 1_000_000;
  const breaker = new CircuitBreaker({ now: () => now });
  return { breaker, advance: (ms: number) => (now += ms) };
}

describe("circuit breaker", () => {
  test("5 consecutive failures open it; a success in between resets the count", () => {
    const { breaker } = fixture();
    for (let i = 0; i < 4; i++) breaker.recordFailure();
    breaker.recordSuccess();
    for (let i = 0; i < 4; i++) breaker.recordFailure();
    expect(breaker.state).toBe("closed");
    breaker.recordFailure();
    expect(breaker.state).toBe("open");
    expect(breaker.canExecute()).toBe(false);
  });

  test("open for 60 s, then half-open; 3 successes close it", () => {
    const { breaker, advance } = fixture();
    for (let i = 0; i < 5; i++) breaker.recordFailure();
    advance(59_999);
    expect(breaker.state).toBe("open");
    expect(breaker.retryAfter()).toBe(1);
    advance(1);
    expect(breaker.state).toBe("half-open");
    expect(breaker.canExecute()).toBe(true);
    breaker.recordSuccess();
    breaker.recordSuccess();
    expect(breaker.state).toBe("half-open");
    breaker.recordSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.getStats()).toEqual({ state: "closed", canExecute: true, failureCount: 0, successCount: 0, retryAfter: 0 });
  });

  test("a failure while half-open re-opens it for another full timeout", () => {
    const { breaker, advance } = fixture();
    for (let i = 0; i < 5; i++) breaker.recordFailure();
    advance(60_000);
    breaker.recordSuccess();
    breaker.recordFailure();
    expect(breaker.state).toBe("open");
    advance(30_000);
    expect(breaker.state).toBe("open");
    advance(30_000);
    expect(breaker.state).toBe("half-open");
  });

  test("custom thresholds and validation", () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, resetTimeout: 10, successThreshold: 1, now: () => now });
    b.recordFailure();
    expect(b.state).toBe("open");
    now = 10;
    b.recordSuccess();
    expect(b.state).toBe("closed");
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
  });
});
