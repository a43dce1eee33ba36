import { describe, expect, test } from "bun:test";
import { AbuseTracker, InboundRateLimiter, RateLimitPolicy, TokenBucket } from "./rate-limit.ts";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe("TokenBucket", () => {
  test("starts full, empties, refuses when empty", () => {
    const c = clock();
    const bucket = new TokenBucket(3, 1, c.now);
    expect(bucket.take()).toEqual({ allowed: true, remaining: 2, warn: false, retryAfterMs: 0 });
    expect(bucket.take().allowed).toBe(true);
    expect(bucket.take()).toEqual({ allowed: true, remaining: 0, warn: true, retryAfterMs: 0 });
    expect(bucket.take()).toEqual({ allowed: false, remaining: 0, warn: true, retryAfterMs: 1000 });
    expect(bucket.available()).toBe(0);
  });

  test("warn below 20 % of the capacity", () => {
    const c = clock();
    const bucket = new TokenBucket(10, 1, c.now);
    const results = Array.from({ length: 10 }, () => bucket.take());
    expect(results.map((r) => r.warn)).toEqual([false, false, false, false, false, false, false, false, true, true]);
    expect(results[8]!.remaining).toBe(1);
  });

  test("refills at the configured rate and caps at capacity", () => {
    const c = clock();
    const bucket = new TokenBucket(10, 4, c.now);
    for (let i = 0; i < 10; i++) bucket.take();
    c.advance(500);
    expect(bucket.available()).toBeCloseTo(2, 5);
    c.advance(60_000);
    expect(bucket.available()).toBe(10);
  });

  test("explicit now argument", () => {
    const bucket = new TokenBucket(2, 2, () => 0);
    expect(bucket.take(0).allowed).toBe(true);
    expect(bucket.take(0).allowed).toBe(true);
    expect(bucket.take(0).retryAfterMs).toBe(500);
    expect(bucket.take(499).allowed).toBe(false);
    expect(bucket.take(500).allowed).toBe(true);
    expect(bucket.msUntilFull(500)).toBe(1000);
  });

  test("no refill → retry never", () => {
    const c = clock();
    const never = new TokenBucket(1, 0, c.now);
    never.take();
    c.advance(10_000);
    expect(never.take()).toEqual({ allowed: false, remaining: 0, warn: true, retryAfterMs: Infinity });
  });

  test("a clock going backwards neither adds nor removes tokens", () => {
    const c = clock();
    const bucket = new TokenBucket(5, 1, c.now);
    bucket.take();
    c.advance(-5000);
    expect(bucket.available()).toBe(4);
  });

  test("rejects bad options", () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, -1)).toThrow(RangeError);
    expect(() => new TokenBucket(NaN, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, Infinity)).toThrow(RangeError);
  });
});

describe("AbuseTracker", () => {
  test("fires at the threshold within the window", () => {
    const c = clock();
    const tracker = new AbuseTracker({ threshold: 3, windowMs: 1000, now: c.now });
    expect(tracker.record()).toBe(false);
    expect(tracker.record()).toBe(false);
    expect(tracker.record()).toBe(true);
  });

  test("events outside the window expire", () => {
    const c = clock();
    const tracker = new AbuseTracker({ threshold: 3, windowMs: 1000, now: c.now });
    tracker.record();
    tracker.record();
    c.advance(1000);
    expect(tracker.count()).toBe(0);
    expect(tracker.record()).toBe(false);
  });

  test("slow steady events never fire", () => {
    const c = clock();
    const tracker = new AbuseTracker({ threshold: 5, windowMs: 1000, now: c.now });
    for (let i = 0; i < 100; i++) {
      expect(tracker.record()).toBe(false);
      c.advance(250);
    }
  });

  test("rejects bad options", () => {
    expect(() => new AbuseTracker({ threshold: 0 })).toThrow(RangeError);
    expect(() => new AbuseTracker({ threshold: 1, windowMs: 0 })).toThrow(RangeError);
  });
});

describe("InboundRateLimiter", () => {
  test("allow → warning below 20 % → reject → close 4429", () => {
    const c = clock();
    const limiter = new InboundRateLimiter({ capacity: 10, refillPerSecond: 1, abuseThreshold: 3, now: c.now });
    const decisions = Array.from({ length: 16 }, () => limiter.check());
    expect(decisions.slice(0, 8).every((d) => d.action === "allow" && !d.warning)).toBe(true);
    // 9th message leaves 1 token (< 2 = 20 % of 10): one warning.
    const ninth = decisions[8]!;
    expect(ninth.action).toBe("allow");
    if (ninth.action === "allow") {
      expect(ninth.warning).toEqual({ current_rate: 9, limit: 1, remaining: 1, retry_after: 9 });
    }
    // 10th: still allowed, warning throttled (same second).
    expect(decisions[9]).toEqual({ action: "allow" });
    expect(decisions[10]).toEqual({ action: "reject", retryAfterSeconds: 1 });
    expect(decisions[11]).toEqual({ action: "reject", retryAfterSeconds: 1 });
    expect(decisions[12]).toEqual({ action: "close", code: 4429, reason: "rate limit abuse" });
  });

  test("warnings at most once a second", () => {
    const c = clock();
    const limiter = new InboundRateLimiter({ capacity: 100, refillPerSecond: 10, abuseThreshold: 50, now: c.now });
    for (let i = 0; i < 85; i++) limiter.check();
    let warnings = 0;
    for (let i = 0; i < 40; i++) {
      const d = limiter.check();
      if (d.action === "allow" && d.warning) warnings++;
      c.advance(100);
    }
    // Bucket hovers around 15 tokens (below 20), ~4 s elapsed → about one warning a second.
    expect(warnings).toBeGreaterThanOrEqual(3);
    expect(warnings).toBeLessThanOrEqual(5);
  });

  test("a client that backs off recovers instead of being closed", () => {
    const c = clock();
    const limiter = new InboundRateLimiter({ capacity: 5, refillPerSecond: 5, abuseThreshold: 4, now: c.now });
    for (let i = 0; i < 5; i++) limiter.check();
    expect(limiter.check().action).toBe("reject");
    expect(limiter.check().action).toBe("reject");
    c.advance(11_000);
    expect(limiter.remaining).toBe(5);
    for (let i = 0; i < 5; i++) expect(limiter.check().action).toBe("allow");
    expect(limiter.check().action).toBe("reject");
    expect(limiter.check().action).toBe("reject");
  });

  test("atRest only once a fresh limiter would decide the same (bucket full, windows passed)", () => {
    const c = clock();
    const limiter = new InboundRateLimiter({ capacity: 4, refillPerSecond: 2, abuseThreshold: 3, abuseWindowMs: 10_000, now: c.now });
    expect(limiter.atRest()).toBe(false); // the rate window has just started
    for (let i = 0; i < 4; i++) limiter.check();
    expect(limiter.check().action).toBe("reject");
    c.advance(2_000); // bucket full again, but the rejection is inside the abuse window
    expect(limiter.remaining).toBe(4);
    expect(limiter.atRest()).toBe(false);
    c.advance(8_001);
    expect(limiter.atRest()).toBe(true);
  });

  test("rejections still add up to a close with the abuse tracker made on first use", () => {
    const c = clock();
    const limiter = new InboundRateLimiter({ capacity: 1, refillPerSecond: 0.001, abuseThreshold: 3, now: c.now });
    expect(limiter.check().action).toBe("allow");
    expect(limiter.check().action).toBe("reject");
    expect(limiter.check().action).toBe("reject");
    expect(limiter.check().action).toBe("close");
  });

  test("rejects bad abuse settings at construction", () => {
    expect(() => new InboundRateLimiter({ capacity: 1, refillPerSecond: 1, abuseThreshold: 0 })).toThrow(RangeError);
  });
});

describe("RateLimitPolicy", () => {
  test("limiters sharing one policy keep their own counters", () => {
    const c = clock();
    const policy = new RateLimitPolicy({ capacity: 3, refillPerSecond: 1, abuseThreshold: 2, now: c.now });
    const a = new InboundRateLimiter(policy);
    const b = new InboundRateLimiter(policy);
    for (let i = 0; i < 3; i++) expect(a.check().action).toBe("allow");
    expect(a.check().action).toBe("reject");
    expect(a.remaining).toBe(0);
    expect(b.remaining).toBe(3);
    expect(b.check().action).toBe("allow");
    expect(a.check()).toEqual({ action: "close", code: 4429, reason: "rate limit abuse" });
    expect(b.check().action).toBe("allow");
  });

  test("decides exactly as a TokenBucket + AbuseTracker composition (the reference model)", () => {
    const c = clock();
    const options = { capacity: 10, refillPerSecond: 2, abuseThreshold: 3, now: c.now };
    const limiter = new InboundRateLimiter(new RateLimitPolicy(options));
    // The reference: bucket, abuse window, warning throttle and the rate count as PROTOCOL.md §7 states them.
    const bucket = new TokenBucket(10, 2, c.now);
    const abuse = new AbuseTracker({ threshold: 3, now: c.now });
    let lastWarning = -Infinity;
    let windowStart = c.now();
    let count = 0;
    let previous = 0;
    const reference = () => {
      const now = c.now();
      if (now - windowStart >= 1000) {
        previous = now - windowStart < 2000 ? count : 0;
        count = 0;
        windowStart = now;
      }
      count++;
      const taken = bucket.take(now);
      if (!taken.allowed) {
        if (abuse.record(now)) return { action: "close", code: 4429, reason: "rate limit abuse" };
        return { action: "reject", retryAfterSeconds: Math.max(1, Math.ceil(taken.retryAfterMs / 1000)) };
      }
      if (taken.warn && now - lastWarning >= 1000) {
        lastWarning = now;
        const full = bucket.msUntilFull(now);
        return { action: "allow", warning: { current_rate: Math.max(count, previous), limit: 2, remaining: taken.remaining, retry_after: Math.ceil(full / 1000) } };
      }
      return { action: "allow" };
    };
    const steps = [0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 250, 0, 0, 900, 0, 0, 1500, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4000, 0, 0];
    const seen = new Set<string>();
    for (const step of steps) {
      c.advance(step);
      const got = limiter.check();
      expect(got).toEqual(reference() as typeof got);
      seen.add(got.action + ("warning" in got && got.warning ? "+warning" : ""));
    }
    // The walk went through every kind of decision.
    expect([...seen].sort()).toEqual(["allow", "allow+warning", "close", "reject"]);
  });

  test("bad settings are refused once, up front", () => {
    expect(() => new RateLimitPolicy({ capacity: 0, refillPerSecond: 1, abuseThreshold: 1 })).toThrow(RangeError);
    expect(() => new RateLimitPolicy({ capacity: 1, refillPerSecond: -1, abuseThreshold: 1 })).toThrow(RangeError);
    expect(() => new RateLimitPolicy({ capacity: 1, refillPerSecond: 1, abuseThreshold: 1.5 })).toThrow(RangeError);
    expect(() => new RateLimitPolicy({ capacity: 1, refillPerSecond: 1, abuseThreshold: 1, abuseWindowMs: 0 })).toThrow(RangeError);
  });
});
