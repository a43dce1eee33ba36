/**
 * A three-state circuit breaker that stops reconnect storms.
 *
 * `closed` counts consecutive failures; at `failureThreshold` (5) it opens. `open` refuses
 * every attempt for `resetTimeout` (60 s), then lets probes through as `half-open`;
 * `successThreshold` (3) successes there close it, one failure re-opens it.
 *
 * ```ts
 * import { CircuitBreaker } from "./circuit-breaker.ts";
 * const breaker = new CircuitBreaker();
 * if (breaker.canExecute()) { ... breaker.recordSuccess(); }
 * ```
 *
 * @module
 */

/** Breaker states (the Python client's spelling). */
export type CircuitState = "closed" | "open" | "half-open";

/** Breaker thresholds; times in ms. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker (default 5). */
  failureThreshold?: number;
  /** How long the breaker stays open, ms (default 60000). */
  resetTimeout?: number;
  /** Successes in half-open that close it (default 3). */
  successThreshold?: number;
  /** Clock in ms (default `Date.now`); tests inject their own. */
  now?: () => number;
}

/** The breaker's `getStats()` shape. */
export interface CircuitBreakerStats {
  state: CircuitState;
  canExecute: boolean;
  failureCount: number;
  successCount: number;
  /** Ms until an open breaker half-opens (0 unless open). */
  retryAfter: number;
}

/** Three-state circuit breaker with an injectable clock. */
export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #resetTimeout: number;
  readonly #successThreshold: number;
  readonly #now: () => number;
  #state: CircuitState = "closed";
  #failures = 0;
  #successes = 0;
  #openedAt = 0;

  /** Creates a closed breaker. */
  constructor(options: CircuitBreakerOptions = {}) {
    this.#failureThreshold = options.failureThreshold ?? 5;
    this.#resetTimeout = options.resetTimeout ?? 60_000;
    this.#successThreshold = options.successThreshold ?? 3;
    this.#now = options.now ?? Date.now;
    if (!(this.#failureThreshold >= 1) || !(this.#successThreshold >= 1) || !(this.#resetTimeout >= 0)) {
      throw new RangeError("circuit breaker thresholds must be ≥ 1 and resetTimeout ≥ 0");
    }
  }

  /** Current state; an open breaker whose timeout elapsed reports `half-open`. */
  get state(): CircuitState {
    this.#checkTimeout();
    return this.#state;
  }

  /** True unless the breaker is open. */
  canExecute(): boolean {
    return this.state !== "open";
  }

  /** Ms until an open breaker lets a probe through (0 when not open). */
  retryAfter(): number {
    if (this.state !== "open") return 0;
    return Math.max(0, this.#openedAt + this.#resetTimeout - this.#now());
  }

  /** Records a successful operation. */
  recordSuccess(): void {
    this.#checkTimeout();
    if (this.#state === "half-open") {
      this.#successes++;
      if (this.#successes >= this.#successThreshold) this.reset();
    } else if (this.#state === "closed") {
      this.#failures = 0;
    }
  }

  /** Records a failed operation. */
  recordFailure(): void {
    this.#checkTimeout();
    this.#failures++;
    if (this.#state === "half-open" || (this.#state === "closed" && this.#failures >= this.#failureThreshold)) {
      this.#state = "open";
      this.#openedAt = this.#now();
      this.#successes = 0;
    }
  }

  /** Back to `closed` with zeroed counters. */
  reset(): void {
    this.#state = "closed";
    this.#failures = 0;
    this.#successes = 0;
  }

  /** Snapshot for `WSEClient.getStats()`. */
  getStats(): CircuitBreakerStats {
    const state = this.state;
    return {
      state,
      canExecute: state !== "open",
      failureCount: this.#failures,
      successCount: this.#successes,
      retryAfter: this.retryAfter(),
    };
  }

  #checkTimeout(): void {
    if (this.#state === "open" && this.#now() - this.#openedAt >= this.#resetTimeout) {
      this.#state = "half-open";
      this.#successes = 0;
    }
  }
}
