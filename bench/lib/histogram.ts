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
const INVERSE_GROWTH = 1 / GROWTH;
const MIN_US = 1;
/** Buckets kept: index 2,400 is 1.01^2400 µs ≈ 6.6 h; anything longer lands in the last one. */
const BUCKETS = 2400;

/** A sparse serialized histogram: bucket index → count. */
export type HistogramData = Record<string, number>;

/** Latency histogram in milliseconds (counts in a flat array: no map update per sample). */
export class Histogram {
  #buckets = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Records one latency in milliseconds (negative values count as 0). */
  record(ms: number): void {
    const us = ms * 1000;
    let index = us > MIN_US ? Math.floor(Math.log(us) * INVERSE_GROWTH) : 0;
    if (index >= BUCKETS) index = BUCKETS - 1;
    this.#buckets[index]!++;
    this.#count++;
    if (ms > 0) this.#sum += ms;
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
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.#buckets[index]!;
      if (seen >= rank) return index === 0 ? MIN_US / 1000 : Math.exp((index + 0.5) * GROWTH) / 1000;
    }
    return this.#max;
  }

  /** Adds another histogram's serialized form. */
  merge(data: { buckets: HistogramData; count: number; sum: number; max: number }): void {
    for (const [key, n] of Object.entries(data.buckets)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0) throw new Error(`histogram bucket ${key} is not an index`);
      this.#buckets[Math.min(index, BUCKETS - 1)]! += n;
    }
    this.#count += data.count;
    this.#sum += data.sum;
    if (data.max > this.#max) this.#max = data.max;
  }

  /** Serializable form for `merge`. */
  toJSON(): { buckets: HistogramData; count: number; sum: number; max: number } {
    const buckets: HistogramData = {};
    for (let index = 0; index < BUCKETS; index++) if (this.#buckets[index]! > 0) buckets[index] = this.#buckets[index]!;
    return { buckets, count: this.#count, sum: this.#sum, max: this.#max };
  }

  /** Empties the histogram. */
  clear(): void {
    this.#buckets.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#max = 0;
  }
}
