/**
 * A log-bucketed latency histogram (1 % relative resolution, 1 µs to ~1 h) that merges across
 * processes: generators send `toJSON()` and the orchestrator adds them with `merge`.
 *
 * @example
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const h = new Histogram();
 * h.record(0.42); // ms
 * h.percentile(99); // ≈ 0.42
 * ```
 * @module
 */

const GROWTH = Math.log(1.01);
const MIN_US = 1;

/** A sparse serialized histogram: bucket index → count. */
export type HistogramData = Record<string, number>;

/** Latency histogram in milliseconds. */
export class Histogram {
  #buckets = new Map<number, number>();
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Records one latency in milliseconds (negative values count as 0). */
  record(ms: number): void {
    const us = ms * 1000;
    const index = us <= MIN_US ? 0 : Math.floor(Math.log(us) / GROWTH);
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.#count++;
    this.#sum += ms > 0 ? ms : 0;
    if (ms > this.#max) this.#max = ms;
  }

  /** Number of samples. */
  get count(): number {
    return this.#count;
  }

  /** Mean in ms (0 when empty). */
  get mean(): number {
    return this.#count ? this.#sum / this.#count : 0;
  }

  /** Largest sample in ms. */
  get max(): number {
    return this.#max;
  }

  /** The value (ms, bucket midpoint) at percentile `p` (0–100); 0 when empty. */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    const indexes = [...this.#buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const index of indexes) {
      seen += this.#buckets.get(index)!;
      if (seen >= rank) return index === 0 ? MIN_US / 1000 : Math.exp((index + 0.5) * GROWTH) / 1000;
    }
    return this.#max;
  }

  /** Adds another histogram's serialized form. */
  merge(data: { buckets: HistogramData; count: number; sum: number; max: number }): void {
    for (const [key, n] of Object.entries(data.buckets)) {
      const index = Number(key);
      this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + n);
    }
    this.#count += data.count;
    this.#sum += data.sum;
    if (data.max > this.#max) this.#max = data.max;
  }

  /** Serializable form for `merge`. */
  toJSON(): { buckets: HistogramData; count: number; sum: number; max: number } {
    return { buckets: Object.fromEntries(this.#buckets), count: this.#count, sum: this.#sum, max: this.#max };
  }

  /** Empties the histogram. */
  clear(): void {
    this.#buckets.clear();
    this.#count = 0;
    this.#sum = 0;
    this.#max = 0;
  }
}
