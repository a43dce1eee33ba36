/**
 * Client-side token bucket: `capacity` tokens (1000), refilled continuously at
 * `refillRate` tokens per second (100). Each outgoing message takes one token.
 *
 * ```ts
 * import { TokenBucket } from "./rate-limiter.ts";
 * const bucket = new TokenBucket();
 * if (!bucket.tryAcquire()) console.log("wait", bucket.retryAfter(), "ms");
 * ```
 *
 * @module
 */

/** Bucket size and refill. */
export interface TokenBucketOptions {
  /** Maximum tokens (default 1000). */
  capacity?: number;
  /** Tokens added per second (default 100). */
  refillRate?: number;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

/** The limiter's `getStats()` shape (the Python client's, camelCase). */
export interface TokenBucketStats {
  availableTokens: number;
  capacity: number;
  utilization: number;
  refillRate: number;
}

/** A continuously refilled token bucket with an injectable clock. */
export class TokenBucket {
  readonly capacity: number;
  readonly refillRate: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  /** Creates a full bucket. */
  constructor(options: TokenBucketOptions = {}) {
    this.capacity = options.capacity ?? 1000;
    this.refillRate = options.refillRate ?? 100;
    if (!(this.capacity > 0) || !(this.refillRate >= 0)) {
      throw new RangeError("token bucket capacity must be > 0 and refillRate ≥ 0");
    }
    this.#now = options.now ?? Date.now;
    this.#tokens = this.capacity;
    this.#last = this.#now();
  }

  /** Tokens available now (fractional). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes `count` tokens if there are enough; returns whether it did. */
  tryAcquire(count = 1): boolean {
    this.#refill();
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  /** Ms until `count` tokens are available (0 if they are now; Infinity if never). */
  retryAfter(count = 1): number {
    this.#refill();
    const missing = count - this.#tokens;
    if (missing <= 0) return 0;
    if (this.refillRate === 0 || count > this.capacity) return Infinity;
    return Math.ceil((missing / this.refillRate) * 1000);
  }

  /** Refills to capacity. */
  reset(): void {
    this.#tokens = this.capacity;
    this.#last = this.#now();
  }

  /** Snapshot for `WSEClient.getStats()`. */
  getStats(): TokenBucketStats {
    const available = this.available;
    return {
      availableTokens: Math.round(available * 10) / 10,
      capacity: this.capacity,
      utilization: Math.round((1 - available / this.capacity) * 1000) / 1000,
      refillRate: this.refillRate,
    };
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    this.#tokens = Math.min(this.capacity, this.#tokens + elapsed * this.refillRate);
  }
}
