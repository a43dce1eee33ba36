/**
 * Inbound rate limiting (PROTOCOL.md §7): a per-connection token bucket, a sliding-window abuse
 * counter, and `InboundRateLimiter`, which combines them into the protocol's decisions —
 * below 20 % left → `rate_limit_warning` at most once a second; empty → drop and
 * `RATE_LIMITED`; sustained abuse (many drops within a window) → close 4429.
 *
 * Every class takes an injected clock (`now`, ms) so tests control time.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(1000, 100);
 * bucket.take(); // { allowed: true, remaining: 999, warn: false, retryAfterMs: 0 }
 * const limiter = new InboundRateLimiter({ capacity: 1000, refillPerSecond: 100, abuseThreshold: 100 });
 * const decision = limiter.check();
 * if (decision.action === "reject") sendError("RATE_LIMITED", decision.retryAfterSeconds);
 * ```
 *
 * @module
 */

/** A clock returning milliseconds. */
export type Clock = () => number;

/** Result of one `TokenBucket.take()`. */
export interface TakeResult {
  /** The message may be processed. */
  allowed: boolean;
  /** Tokens left after this take (floored). */
  remaining: number;
  /** Below the warning fraction (20 %) of the capacity; the caller throttles warnings to one a second. */
  warn: boolean;
  /** When rejected, ms until one token is back (Infinity when it never will be); otherwise 0. */
  retryAfterMs: number;
}

/** A token bucket that starts full and refills continuously. */
export class TokenBucket {
  /** Bucket size (the largest burst). */
  readonly capacity: number;
  /** Tokens added per second (0 = never refills). */
  readonly refillPerSecond: number;
  /** `take` reports `warn` below this fraction of the capacity (default 0.2). */
  readonly warnBelow: number;
  #tokens: number;
  #last: number;
  readonly #clock: Clock;

  /**
   * Creates a full bucket; throws `RangeError` on a non-positive capacity or a negative refill.
   * `clock` (ms) is used when a call passes no `now`.
   */
  constructor(capacity: number, refillPerSecond: number, clock: Clock = Date.now, warnBelow = 0.2) {
    if (!(capacity > 0) || !Number.isFinite(capacity)) throw new RangeError("capacity must be a positive number");
    if (!(refillPerSecond >= 0) || !Number.isFinite(refillPerSecond)) {
      throw new RangeError("refillPerSecond must be a non-negative number");
    }
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.warnBelow = warnBelow;
    this.#clock = clock;
    this.#tokens = capacity;
    this.#last = clock();
  }

  /** Takes one token at time `now` (ms) when available; otherwise takes nothing. */
  take(now: number = this.#clock()): TakeResult {
    this.#refill(now);
    if (this.#tokens < 1) {
      return { allowed: false, remaining: 0, warn: true, retryAfterMs: this.#msUntil(1) };
    }
    this.#tokens -= 1;
    return {
      allowed: true,
      remaining: Math.floor(this.#tokens),
      warn: this.#tokens < this.capacity * this.warnBelow,
      retryAfterMs: 0,
    };
  }

  /** Tokens available at time `now` (fractional), without taking any. */
  available(now: number = this.#clock()): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Ms from `now` until the bucket is full again (0 when it is; Infinity when it never refills). */
  msUntilFull(now: number = this.#clock()): number {
    this.#refill(now);
    return this.#msUntil(this.capacity);
  }

  #msUntil(tokens: number): number {
    const missing = tokens - this.#tokens;
    if (missing <= 0) return 0;
    if (this.refillPerSecond === 0) return Infinity;
    return Math.ceil((missing / this.refillPerSecond) * 1000);
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (!(elapsed > 0)) return;
    this.#last = now;
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed / 1000) * this.refillPerSecond);
  }
}

/** Options of `AbuseTracker`. */
export interface AbuseTrackerOptions {
  /** Events within the window that count as abuse. */
  threshold: number;
  /** Window length, ms (default 10 000). */
  windowMs?: number;
  /** Clock, ms (default `Date.now`). */
  now?: Clock;
}

/**
 * Counts events (dropped messages, garbage frames) in a sliding window and reports when they
 * reach the threshold. Memory is bounded by the threshold.
 */
export class AbuseTracker {
  /** Events within the window that count as abuse. */
  readonly threshold: number;
  /** Window length, ms. */
  readonly windowMs: number;
  readonly #now: Clock;
  readonly #times: number[] = [];

  /** Creates the tracker; throws `RangeError` on a non-positive threshold or window. */
  constructor(options: AbuseTrackerOptions) {
    if (!Number.isInteger(options.threshold) || options.threshold < 1) throw new RangeError("threshold must be a positive integer");
    const windowMs = options.windowMs ?? 10_000;
    if (!(windowMs > 0)) throw new RangeError("windowMs must be positive");
    this.threshold = options.threshold;
    this.windowMs = windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Records one event at `now` (ms); true when the window now holds `threshold` events or more. */
  record(now: number = this.#now()): boolean {
    this.#expire(now);
    this.#times.push(now);
    if (this.#times.length > this.threshold) this.#times.shift();
    return this.#times.length >= this.threshold;
  }

  /** Events inside the window at `now` (ms). */
  count(now: number = this.#now()): number {
    this.#expire(now);
    return this.#times.length;
  }

  #expire(now: number): void {
    while (this.#times.length > 0 && this.#times[0]! <= now - this.windowMs) this.#times.shift();
  }
}

/** Payload of a `rate_limit_warning` event (PROTOCOL.md §7). */
export interface RateLimitWarning {
  /** Messages received in the last second. */
  current_rate: number;
  /** Sustained rate allowed, messages per second. */
  limit: number;
  /** Whole tokens left. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  retry_after: number;
}

/** What to do with one inbound message. */
export type RateDecision =
  | { action: "allow"; warning?: RateLimitWarning }
  | { action: "reject"; retryAfterSeconds: number }
  | { action: "close"; code: 4429; reason: string };

/** Options of `InboundRateLimiter`. */
export interface InboundRateLimiterOptions {
  /** Bucket size. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
  /** Dropped messages within `abuseWindowMs` that close the connection with 4429. */
  abuseThreshold: number;
  /** Abuse window, ms (default 10 000). */
  abuseWindowMs?: number;
  /** Warn when fewer than this fraction of the capacity is left (default 0.2). */
  warnBelow?: number;
  /** Least time between two warnings, ms (default 1000). */
  warnIntervalMs?: number;
  /** Clock, ms (default `Date.now`). */
  now?: Clock;
}

/**
 * The settings of `InboundRateLimiter`, validated once and shared by the limiters of every
 * connection (a limiter then holds only its own counters).
 */
export class RateLimitPolicy {
  /** Bucket size. */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillPerSecond: number;
  /** Dropped messages within `abuseWindowMs` that close the connection with 4429. */
  readonly abuseThreshold: number;
  /** Abuse window, ms. */
  readonly abuseWindowMs: number;
  /** Warn when fewer than this fraction of the capacity is left. */
  readonly warnBelow: number;
  /** Least time between two warnings, ms. */
  readonly warnIntervalMs: number;
  /** Clock, ms. */
  readonly now: Clock;

  /** Validates the options (`RangeError` as `TokenBucket` and `AbuseTracker` throw it). */
  constructor(options: InboundRateLimiterOptions) {
    const { capacity, refillPerSecond, abuseThreshold } = options;
    if (!(capacity > 0) || !Number.isFinite(capacity)) throw new RangeError("capacity must be a positive number");
    if (!(refillPerSecond >= 0) || !Number.isFinite(refillPerSecond)) {
      throw new RangeError("refillPerSecond must be a non-negative number");
    }
    if (!Number.isInteger(abuseThreshold) || abuseThreshold < 1) throw new RangeError("threshold must be a positive integer");
    const abuseWindowMs = options.abuseWindowMs ?? 10_000;
    if (!(abuseWindowMs > 0)) throw new RangeError("windowMs must be positive");
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.abuseThreshold = abuseThreshold;
    this.abuseWindowMs = abuseWindowMs;
    this.warnBelow = options.warnBelow ?? 0.2;
    this.warnIntervalMs = options.warnIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
  }
}

const ALLOW: RateDecision = Object.freeze({ action: "allow" });

/**
 * One connection's inbound limiter: a token bucket (as `TokenBucket`, kept inline), the warning
 * throttle and the abuse counter. Only counters live here; the settings are a shared
 * `RateLimitPolicy`, so a limiter is one small object (the abuse tracker is made on the first
 * rejected message).
 */
export class InboundRateLimiter {
  readonly #policy: RateLimitPolicy;
  #tokens: number;
  #last: number;
  /** Created on the first rejected message (most connections never have one). */
  #abuse: AbuseTracker | null = null;
  #lastWarning = -Infinity;
  #rateWindowStart: number;
  #rateCount = 0;
  #previousRate = 0;

  /** Creates the limiter from options (validated here) or from a shared policy. */
  constructor(options: InboundRateLimiterOptions | RateLimitPolicy) {
    const policy = options instanceof RateLimitPolicy ? options : new RateLimitPolicy(options);
    this.#policy = policy;
    this.#tokens = policy.capacity;
    this.#last = this.#rateWindowStart = policy.now();
  }

  /** Accounts for one inbound message and says whether to handle, drop or close. */
  check(): RateDecision {
    const policy = this.#policy;
    const now = policy.now();
    this.#countRate(now);
    this.#refill(now);
    if (this.#tokens < 1) {
      this.#abuse ??= new AbuseTracker({ threshold: policy.abuseThreshold, windowMs: policy.abuseWindowMs, now: policy.now });
      if (this.#abuse.record(now)) return { action: "close", code: 4429, reason: "rate limit abuse" };
      return { action: "reject", retryAfterSeconds: Math.max(1, Math.ceil(this.#msUntil(1) / 1000)) };
    }
    this.#tokens -= 1;
    if (this.#tokens < policy.capacity * policy.warnBelow && now - this.#lastWarning >= policy.warnIntervalMs) {
      this.#lastWarning = now;
      const full = this.#msUntil(policy.capacity);
      return {
        action: "allow",
        warning: {
          current_rate: Math.max(this.#rateCount, this.#previousRate),
          limit: policy.refillPerSecond,
          remaining: Math.floor(this.#tokens),
          retry_after: Number.isFinite(full) ? Math.ceil(full / 1000) : 0,
        },
      };
    }
    return ALLOW;
  }

  /**
   * True when a fresh limiter would decide every future message exactly as this one: the bucket
   * is full, no rejection is within the abuse window, the rate window and the warning interval
   * have passed. The owner may then drop this limiter and make a new one on the next message.
   */
  atRest(now: number = this.#policy.now()): boolean {
    this.#refill(now);
    return (
      this.#msUntil(this.#policy.capacity) === 0 &&
      (this.#abuse === null || this.#abuse.count(now) === 0) &&
      now - this.#rateWindowStart >= 2000 &&
      now - this.#lastWarning >= this.#policy.warnIntervalMs
    );
  }

  /** Whole tokens left. */
  get remaining(): number {
    this.#refill(this.#policy.now());
    return Math.floor(this.#tokens);
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (!(elapsed > 0)) return;
    this.#last = now;
    this.#tokens = Math.min(this.#policy.capacity, this.#tokens + (elapsed / 1000) * this.#policy.refillPerSecond);
  }

  /** Ms until `tokens` are available (0 when they are; Infinity when the bucket never refills). */
  #msUntil(tokens: number): number {
    const missing = tokens - this.#tokens;
    if (missing <= 0) return 0;
    if (this.#policy.refillPerSecond === 0) return Infinity;
    return Math.ceil((missing / this.#policy.refillPerSecond) * 1000);
  }

  #countRate(now: number): void {
    const elapsed = now - this.#rateWindowStart;
    if (elapsed >= 1000) {
      this.#previousRate = elapsed < 2000 ? this.#rateCount : 0;
      this.#rateCount = 0;
      this.#rateWindowStart = now;
    }
    this.#rateCount++;
  }
}
