import { describe, expect, test } from "bun:test";
import { TokenBucket } from "./rate-limiter.ts";

describe("token bucket", () => {
  test("starts full at 1000 and refills 100 per second", () => {
    let now = 0;
    const bucket = new TokenBucket({ now: () => now });
    expect(bucket.capacity).toBe(1000);
    expect(bucket.refillRate).toBe(100);
    let sent = 0;
    while (bucket.tryAcquire()) sent++;
    expect(sent).toBe(1000);
    expect(bucket.retryAfter()).toBe(10);
    now += 500;
    expect(Math.round(bucket.available)).toBe(50);
    sent = 0;
    while (bucket.tryAcquire()) sent++;
    expect(sent).toBe(50);
    now += 60_000;
    expect(bucket.available).toBe(1000);
  });

  test("stats mirror the Python client's", () => {
    let now = 0;
    const bucket = new TokenBucket({ capacity: 10, refillRate: 1, now: () => now });
    bucket.tryAcquire(4);
    expect(bucket.getStats()).toEqual({ availableTokens: 6, capacity: 10, utilization: 0.4, refillRate: 1 });
    expect(bucket.tryAcquire(7)).toBe(false);
    expect(bucket.retryAfter(7)).toBe(1000);
    expect(bucket.retryAfter(11)).toBe(Infinity);
    now += 999_999;
    bucket.reset();
    expect(bucket.available).toBe(10);
  });

  test("rejects nonsense", () => {
    expect(() => new TokenBucket({ capacity: 0 })).toThrow(RangeError);
    expect(() => new TokenBucket({ refillRate: -1 })).toThrow(RangeError);
  });
});
