/**
 * Network quality from heartbeat round trips: average latency, jitter (mean absolute
 * difference of consecutive samples), loss (pings without a pong within `lossTimeout`),
 * a quality band and a stability score.
 *
 * Bands (all three limits must hold): excellent ≤ 50 ms latency, ≤ 25 ms jitter, ≤ 0.1 % loss;
 * good ≤ 150 / 50 / 1 %; fair ≤ 300 / 100 / 3 %; anything worse is poor. No sample yet → unknown.
 *
 * ```ts
 * import { NetworkMonitor } from "./network-monitor.ts";
 * const monitor = new NetworkMonitor();
 * monitor.recordPing(1000);
 * monitor.recordPong(1000, 1012);
 * monitor.analyze().quality; // "excellent"
 * ```
 *
 * @module
 */

/** Quality band of a connection. */
export type ConnectionQuality = "excellent" | "good" | "fair" | "poor" | "unknown";

/** One band's upper limits. */
interface Band {
  quality: ConnectionQuality;
  latency: number;
  jitter: number;
  loss: number;
}

/** Band limits: latency and jitter in ms, loss in percent. */
export const QUALITY_BANDS: readonly Band[] = [
  { quality: "excellent", latency: 50, jitter: 25, loss: 0.1 },
  { quality: "good", latency: 150, jitter: 50, loss: 1 },
  { quality: "fair", latency: 300, jitter: 100, loss: 3 },
];

/** Classifies latency (ms), jitter (ms) and loss (%) into a band. */
export function classifyQuality(latency: number, jitter: number, loss: number): ConnectionQuality {
  for (const band of QUALITY_BANDS) {
    if (latency <= band.latency && jitter <= band.jitter && loss <= band.loss) return band.quality;
  }
  return "poor";
}

/** Result of `NetworkMonitor.analyze()`; also the `network` part of the client's stats. */
export interface NetworkDiagnostics {
  quality: ConnectionQuality;
  /** Mean round trip over the window, ms. */
  latencyMs: number;
  /** Most recent round trip, ms (0 before the first). */
  lastLatencyMs: number;
  /** Mean absolute difference of consecutive round trips, ms. */
  jitterMs: number;
  /** Lost pings over resolved pings, percent (0–100). */
  packetLoss: number;
  /** 1 = perfect, 0 = unusable: `1 − jitter/200 − loss/20`, clamped. */
  stability: number;
  /** Number of latency samples in the window. */
  samples: number;
  /** Hints for a degraded connection. */
  suggestions: string[];
}

/** Options for `NetworkMonitor`. */
export interface NetworkMonitorOptions {
  /** Samples kept for latency and jitter (default 50). */
  windowSize?: number;
  /** A ping without a pong for this long counts as lost, ms (default 10000). */
  lossTimeout?: number;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Tracks heartbeat round trips and derives connection quality. */
export class NetworkMonitor {
  readonly #windowSize: number;
  readonly #lossTimeout: number;
  readonly #now: () => number;
  #latencies: number[] = [];
  /** Send times of pings still waiting for their pong. */
  #pending = new Set<number>();
  /** Outcome of resolved pings, newest last: true = answered. */
  #outcomes: boolean[] = [];

  /** Creates an empty monitor. */
  constructor(options: NetworkMonitorOptions = {}) {
    this.#windowSize = options.windowSize ?? 50;
    this.#lossTimeout = options.lossTimeout ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Notes a ping sent at `sentAt` (ms; also its identity for the matching pong). */
  recordPing(sentAt: number = this.#now()): void {
    this.#pending.add(sentAt);
  }

  /**
   * Notes a pong echoing `sentAt` received at `receivedAt`; returns the round trip in ms.
   * A pong for an unknown ping still yields a latency sample but no loss bookkeeping.
   */
  recordPong(sentAt: number, receivedAt: number = this.#now()): number {
    const latency = Math.max(0, receivedAt - sentAt);
    if (this.#pending.delete(sentAt)) this.#pushOutcome(true);
    this.recordLatency(latency);
    return latency;
  }

  /** Adds a round-trip sample without ping bookkeeping. */
  recordLatency(latency: number): void {
    if (!Number.isFinite(latency) || latency < 0) return;
    this.#latencies.push(latency);
    if (this.#latencies.length > this.#windowSize) this.#latencies.shift();
  }

  /** Current band (runs `analyze`). */
  get quality(): ConnectionQuality {
    return this.analyze().quality;
  }

  /** Latency, jitter, loss, band and stability over the current window. */
  analyze(): NetworkDiagnostics {
    this.#expirePending();
    const samples = this.#latencies.length;
    const resolved = this.#outcomes.length;
    const lost = this.#outcomes.filter((answered) => !answered).length;
    const loss = resolved ? (lost / resolved) * 100 : 0;
    if (samples === 0) {
      return {
        quality: lost > 0 ? "poor" : "unknown",
        latencyMs: 0,
        lastLatencyMs: 0,
        jitterMs: 0,
        packetLoss: round(loss, 2),
        stability: round(Math.max(0, 1 - loss / 20), 3),
        samples,
        suggestions: lost > 0 ? ["Heartbeats are not answered"] : [],
      };
    }
    const latency = this.#latencies.reduce((sum, x) => sum + x, 0) / samples;
    let jitter = 0;
    for (let i = 1; i < samples; i++) jitter += Math.abs(this.#latencies[i] - this.#latencies[i - 1]);
    if (samples > 1) jitter /= samples - 1;
    const quality = classifyQuality(latency, jitter, loss);
    const suggestions: string[] = [];
    if (quality === "poor") suggestions.push("High latency or loss; consider another endpoint");
    if (loss > 5) suggestions.push("Significant packet loss detected");
    return {
      quality,
      latencyMs: round(latency, 2),
      lastLatencyMs: round(this.#latencies[samples - 1], 2),
      jitterMs: round(jitter, 2),
      packetLoss: round(loss, 2),
      stability: round(Math.min(1, Math.max(0, 1 - jitter / 200 - loss / 20)), 3),
      samples,
      suggestions,
    };
  }

  /** Forgets everything (e.g. on switching endpoint). */
  reset(): void {
    this.#latencies = [];
    this.#pending.clear();
    this.#outcomes = [];
  }

  #pushOutcome(answered: boolean): void {
    this.#outcomes.push(answered);
    if (this.#outcomes.length > this.#windowSize) this.#outcomes.shift();
  }

  #expirePending(): void {
    const now = this.#now();
    for (const sentAt of this.#pending) {
      if (now - sentAt >= this.#lossTimeout) {
        this.#pending.delete(sentAt);
        this.#pushOutcome(false);
      }
    }
  }
}
