/**
 * Per-connection, per-topic delivery checking: every publication's position (the stamp's `o`,
 * or the bench payload's `n` when a server does not stamp) must be exactly the last one + 1.
 * Anything lower is a duplicate, anything higher is a gap whose size counts as loss.
 *
 * @example
 * ```ts
 * import { TopicTracker, DeliveryStats } from "./offsets.ts";
 * const stats = new DeliveryStats();
 * const t = new TopicTracker();
 * t.baseline(-1);
 * t.observe(0, stats); // "deliver"
 * t.observe(0, stats); // "duplicate"; stats.duplicates === 1
 * ```
 * @module
 */

/** Counters a generator process accumulates and reports. */
export class DeliveryStats {
  /** Publications delivered in order (not duplicates). */
  deliveries = 0;
  /** Publications seen at or below the last position. */
  duplicates = 0;
  /** Publications missing inside the stream (sum of gap sizes). */
  lost = 0;
  /** Number of gaps seen. */
  gaps = 0;
  /** Publications without a `tp`/`o` stamp (checked on `n` instead). */
  unstamped = 0;
  /** Frames that could not be decoded. */
  undecodable = 0;
  /** Publications read with `JSON.parse` because the byte scanner did not recognise their shape. */
  parsed = 0;
  /** Error envelopes received. */
  errors = 0;

  /** Zeroes every counter. */
  reset(): void {
    this.deliveries = this.duplicates = this.lost = this.gaps = this.unstamped = this.undecodable = this.errors = this.parsed = 0;
  }

  /** A plain object for reporting. */
  toJSON(): Record<string, number> {
    return {
      deliveries: this.deliveries,
      duplicates: this.duplicates,
      lost: this.lost,
      gaps: this.gaps,
      unstamped: this.unstamped,
      undecodable: this.undecodable,
      errors: this.errors,
      parsed: this.parsed,
    };
  }
}

/** What `TopicTracker.observe` decided. */
export type Verdict = "deliver" | "duplicate" | "gap";

/** The last position seen on one topic of one connection. */
export class TopicTracker {
  /** Last position delivered; `null` until a baseline or first delivery. */
  last: number | null = null;

  /** Sets the position the next publication must follow (e.g. the subscribe reply's offset). */
  baseline(position: number): void {
    this.last = position;
  }

  /** Classifies one position and updates the counters. */
  observe(position: number, stats: DeliveryStats): Verdict {
    if (this.last === null || position === this.last + 1) {
      this.last = position;
      stats.deliveries++;
      return "deliver";
    }
    if (position <= this.last) {
      stats.duplicates++;
      return "duplicate";
    }
    stats.lost += position - this.last - 1;
    stats.gaps++;
    stats.deliveries++;
    this.last = position;
    return "gap";
  }
}
