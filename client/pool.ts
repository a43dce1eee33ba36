/**
 * Multi-endpoint connection pool: health scoring, load balancing and failover.
 *
 * Each endpoint's health score (0–100) combines its recent success rate, its mean latency and
 * its run of consecutive failures. An endpoint with `unhealthyAfter` consecutive failures sits out
 * for `cooldown` ms unless every endpoint is in that state. Selection among the healthy ones is
 * round-robin, weighted-random (probability ∝ score) or least-connections (ties → best score).
 *
 * ```ts
 * import { ConnectionPool } from "./pool.ts";
 * const pool = new ConnectionPool(["ws://a/wse", "ws://b/wse"], { strategy: "least-connections" });
 * const url = pool.select();
 * pool.recordFailure(url);
 * const next = pool.failover(url); // another endpoint
 * ```
 *
 * @module
 */

/** How the pool picks among healthy endpoints. */
export type LoadBalancingStrategy = "round-robin" | "weighted-random" | "least-connections";

/** Pool options; times in ms. */
export interface ConnectionPoolOptions {
  /** Selection strategy (default `weighted-random`, as in the Python client). */
  strategy?: LoadBalancingStrategy;
  /** Consecutive failures after which an endpoint sits out (default 3). */
  unhealthyAfter?: number;
  /** How long an unhealthy endpoint sits out, ms (default 30000). */
  cooldown?: number;
  /** Attempts remembered for the success rate (default 20). */
  historySize?: number;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
  /** Uniform numbers in [0, 1) for weighted-random (default `Math.random`). */
  random?: () => number;
}

/** One endpoint's health as reported by `getStats()`. */
export interface EndpointStats {
  url: string;
  score: number;
  healthy: boolean;
  active: number;
  successes: number;
  failures: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  avgLatencyMs: number;
}

interface Endpoint {
  url: string;
  active: number;
  successes: number;
  failures: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastFailureAt: number;
  outcomes: boolean[];
  latencies: number[];
}

const STRATEGIES: readonly LoadBalancingStrategy[] = ["round-robin", "weighted-random", "least-connections"];

/** Health score from success rate, latency and consecutive failures, in [0, 100]. */
export function healthScore(successRate: number, avgLatencyMs: number, consecutiveFailures: number): number {
  const latencyPenalty = Math.min(30, avgLatencyMs / 10);
  const failurePenalty = Math.min(60, consecutiveFailures * 15);
  return Math.round(Math.min(100, Math.max(0, 100 * successRate - latencyPenalty - failurePenalty)));
}

/** Endpoints with health scoring, load balancing and failover. */
export class ConnectionPool {
  readonly strategy: LoadBalancingStrategy;
  readonly #endpoints: Endpoint[];
  readonly #unhealthyAfter: number;
  readonly #cooldown: number;
  readonly #historySize: number;
  readonly #now: () => number;
  readonly #random: () => number;
  #cursor = 0;

  /** Creates a pool; throws `RangeError` for no endpoints, a duplicate or an unknown strategy. */
  constructor(urls: readonly string[], options: ConnectionPoolOptions = {}) {
    if (!Array.isArray(urls) || urls.length === 0) throw new RangeError("a connection pool needs at least one endpoint");
    if (new Set(urls).size !== urls.length) throw new RangeError("duplicate endpoint in connection pool");
    this.strategy = options.strategy ?? "weighted-random";
    if (!STRATEGIES.includes(this.strategy)) {
      throw new RangeError(`loadBalancing must be one of ${STRATEGIES.join(", ")}, got ${String(this.strategy)}`);
    }
    this.#unhealthyAfter = options.unhealthyAfter ?? 3;
    this.#cooldown = options.cooldown ?? 30_000;
    this.#historySize = options.historySize ?? 20;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#endpoints = urls.map((url) => ({
      url,
      active: 0,
      successes: 0,
      failures: 0,
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      lastFailureAt: 0,
      outcomes: [],
      latencies: [],
    }));
  }

  /** Every endpoint URL, in configuration order. */
  get urls(): string[] {
    return this.#endpoints.map((e) => e.url);
  }

  /** Health score of `url` (0–100). */
  score(url: string): number {
    const e = this.#get(url);
    const rate = e.outcomes.length ? e.outcomes.filter(Boolean).length / e.outcomes.length : 1;
    const latency = e.latencies.length ? e.latencies.reduce((a, b) => a + b, 0) / e.latencies.length : 0;
    return healthScore(rate, latency, e.consecutiveFailures);
  }

  /** False while `url` sits out after repeated failures. */
  isHealthy(url: string): boolean {
    const e = this.#get(url);
    return e.consecutiveFailures < this.#unhealthyAfter || this.#now() - e.lastFailureAt >= this.#cooldown;
  }

  /**
   * Picks an endpoint by the strategy among the healthy ones not in `exclude`; falls back to
   * the healthy ones, then to all endpoints, so it always returns a URL.
   */
  select(exclude: readonly string[] = []): string {
    const healthy = this.#endpoints.filter((e) => this.isHealthy(e.url));
    let candidates = healthy.filter((e) => !exclude.includes(e.url));
    if (candidates.length === 0) candidates = healthy.length ? healthy : this.#endpoints.filter((e) => !exclude.includes(e.url));
    if (candidates.length === 0) candidates = this.#endpoints;
    switch (this.strategy) {
      case "round-robin":
        return this.#roundRobin(candidates);
      case "least-connections":
        return this.#leastConnections(candidates);
      default:
        return this.#weightedRandom(candidates);
    }
  }

  /** Records the failure of `failedUrl` and picks another endpoint (the same only if it is the only one). */
  failover(failedUrl: string): string {
    return this.select([failedUrl]);
  }

  /** A connection attempt to `url` succeeded; `latencyMs` is an optional round-trip sample. */
  recordSuccess(url: string, latencyMs?: number): void {
    const e = this.#get(url);
    e.successes++;
    e.consecutiveFailures = 0;
    e.consecutiveSuccesses++;
    this.#pushOutcome(e, true);
    if (latencyMs !== undefined) this.recordLatency(url, latencyMs);
  }

  /** A connection attempt to `url` failed or the connection broke. */
  recordFailure(url: string): void {
    const e = this.#get(url);
    e.failures++;
    e.consecutiveFailures++;
    e.consecutiveSuccesses = 0;
    e.lastFailureAt = this.#now();
    this.#pushOutcome(e, false);
  }

  /** Adds a round-trip sample for `url`. */
  recordLatency(url: string, latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    const e = this.#get(url);
    e.latencies.push(latencyMs);
    if (e.latencies.length > this.#historySize) e.latencies.shift();
  }

  /** A connection to `url` opened (least-connections bookkeeping). */
  acquire(url: string): void {
    this.#get(url).active++;
  }

  /** A connection to `url` closed. */
  release(url: string): void {
    const e = this.#get(url);
    if (e.active > 0) e.active--;
  }

  /** Adds an endpoint at runtime (no-op when present). */
  add(url: string): void {
    if (this.#endpoints.some((e) => e.url === url)) return;
    this.#endpoints.push({ url, active: 0, successes: 0, failures: 0, consecutiveFailures: 0, consecutiveSuccesses: 0, lastFailureAt: 0, outcomes: [], latencies: [] });
  }

  /** Per-endpoint health for `WSEClient.getStats()`. */
  getStats(): EndpointStats[] {
    return this.#endpoints.map((e) => ({
      url: e.url,
      score: this.score(e.url),
      healthy: this.isHealthy(e.url),
      active: e.active,
      successes: e.successes,
      failures: e.failures,
      consecutiveFailures: e.consecutiveFailures,
      consecutiveSuccesses: e.consecutiveSuccesses,
      avgLatencyMs: e.latencies.length ? Math.round((e.latencies.reduce((a, b) => a + b, 0) / e.latencies.length) * 10) / 10 : 0,
    }));
  }

  #get(url: string): Endpoint {
    const e = this.#endpoints.find((x) => x.url === url);
    if (!e) throw new RangeError(`unknown endpoint ${url}`);
    return e;
  }

  #pushOutcome(e: Endpoint, ok: boolean): void {
    e.outcomes.push(ok);
    if (e.outcomes.length > this.#historySize) e.outcomes.shift();
  }

  #roundRobin(candidates: Endpoint[]): string {
    // Walk the configuration order from the cursor so the rotation is stable when candidates change.
    const n = this.#endpoints.length;
    for (let i = 0; i < n; i++) {
      const e = this.#endpoints[(this.#cursor + i) % n];
      if (candidates.includes(e)) {
        this.#cursor = (this.#cursor + i + 1) % n;
        return e.url;
      }
    }
    return candidates[0].url;
  }

  #leastConnections(candidates: Endpoint[]): string {
    let best = candidates[0];
    for (const e of candidates.slice(1)) {
      if (e.active < best.active || (e.active === best.active && this.score(e.url) > this.score(best.url))) best = e;
    }
    return best.url;
  }

  #weightedRandom(candidates: Endpoint[]): string {
    const weights = candidates.map((e) => Math.max(1, this.score(e.url)));
    const total = weights.reduce((a, b) => a + b, 0);
    let r = this.#random() * total;
    for (let i = 0; i < candidates.length; i++) {
      r -= weights[i];
      if (r < 0) return candidates[i].url;
    }
    return candidates[candidates.length - 1].url;
  }
}
