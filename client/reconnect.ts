/**
 * Reconnect delays: exponential, linear, fibonacci and adaptive backoff with full jitter.
 *
 * ```ts
 * import { reconnectDelay, resolveReconnectOptions } from "./reconnect.ts";
 * const options = resolveReconnectOptions({ mode: "fibonacci", baseDelay: 500 });
 * const wait = reconnectDelay(3, options); // somewhere in [0, 1500] ms with jitter
 * ```
 *
 * @module
 */
import type { ConnectionQuality } from "./network-monitor.ts";

/** How the delay grows between attempts. */
export type ReconnectMode = "exponential" | "linear" | "fibonacci" | "adaptive";

/** Reconnect policy. Delays are in milliseconds. */
export interface ReconnectOptions {
  /** Reconnect at all after an unexpected close (default true). */
  enabled: boolean;
  /** Growth strategy (default `exponential`). */
  mode: ReconnectMode;
  /** Delay of the first attempt, ms (default 1000). */
  baseDelay: number;
  /** Cap on any delay, ms (default 30000). */
  maxDelay: number;
  /** Multiplier per attempt for `exponential` and `adaptive` (default 1.5). */
  factor: number;
  /** Full jitter: the wait is uniform in [0, delay] (default true). */
  jitter: boolean;
  /** Give up after this many consecutive failed attempts (default `Infinity`). */
  maxAttempts: number;
}

/** Defaults, the same as the Python wse-client's (in milliseconds). */
export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  enabled: true,
  mode: "exponential",
  baseDelay: 1000,
  maxDelay: 30_000,
  factor: 1.5,
  jitter: true,
  maxAttempts: Infinity,
});

const MODES: readonly ReconnectMode[] = ["exponential", "linear", "fibonacci", "adaptive"];

/** How much slower `adaptive` backs off per connection quality. */
const ADAPTIVE_MULTIPLIER: Record<ConnectionQuality, number> = {
  excellent: 1,
  good: 1.5,
  fair: 2,
  poor: 3,
  unknown: 1,
};

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(`reconnect.${name} must be a number ≥ 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Fills in defaults and validates a partial policy. `false` disables reconnecting.
 * Throws `RangeError` for an unknown mode or a negative/NaN number.
 */
export function resolveReconnectOptions(partial?: Partial<ReconnectOptions> | boolean): ReconnectOptions {
  if (partial === false) return { ...DEFAULT_RECONNECT, enabled: false };
  if (partial === true || partial === undefined) return { ...DEFAULT_RECONNECT };
  const merged: ReconnectOptions = { ...DEFAULT_RECONNECT };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  if (!MODES.includes(merged.mode)) {
    throw new RangeError(`reconnect.mode must be one of ${MODES.join(", ")}, got ${String(merged.mode)}`);
  }
  nonNegative("baseDelay", merged.baseDelay);
  nonNegative("maxDelay", merged.maxDelay);
  nonNegative("maxAttempts", merged.maxAttempts);
  if (nonNegative("factor", merged.factor) < 1) {
    throw new RangeError(`reconnect.factor must be ≥ 1, got ${merged.factor}`);
  }
  return merged;
}

/** The n-th Fibonacci number with fib(1) = fib(2) = 1; capped to stay finite. */
function fibonacci(n: number): number {
  let a = 0;
  let b = 1;
  for (let i = 0; i < Math.min(n, 70); i++) [a, b] = [b, a + b];
  return a;
}

/** Extra inputs for `reconnectDelay`. */
export interface DelayContext {
  /** Current connection quality, used by `adaptive` (default `unknown`). */
  quality?: ConnectionQuality;
  /** Source of uniform numbers in [0, 1) for jitter (default `Math.random`). */
  random?: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0 = the first retry), in ms, before jitter:
 * exponential `base·factor^n`, linear `base·(n+1)`, fibonacci `base·fib(n+1)`, adaptive
 * exponential × a quality multiplier (excellent 1 … poor 3); all capped at `maxDelay`.
 */
export function backoffCeiling(attempt: number, options: ReconnectOptions, quality: ConnectionQuality = "unknown"): number {
  const n = Math.max(0, Math.floor(attempt));
  let delay: number;
  switch (options.mode) {
    case "linear":
      delay = options.baseDelay * (n + 1);
      break;
    case "fibonacci":
      delay = options.baseDelay * fibonacci(n + 1);
      break;
    case "adaptive":
      delay = options.baseDelay * options.factor ** n * ADAPTIVE_MULTIPLIER[quality];
      break;
    default:
      delay = options.baseDelay * options.factor ** n;
  }
  return Math.min(delay, options.maxDelay);
}

/** The wait before attempt `attempt` in ms: `backoffCeiling`, then full jitter when enabled. */
export function reconnectDelay(attempt: number, options: ReconnectOptions, context: DelayContext = {}): number {
  const ceiling = backoffCeiling(attempt, options, context.quality);
  if (!options.jitter) return ceiling;
  const random = context.random ?? Math.random;
  return Math.floor(random() * ceiling);
}
