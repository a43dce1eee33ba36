/**
 * Per-topic ordering, dedup and recovery bookkeeping over the WASM sequencer
 * (PROTOCOL.md §4): classifies every stamped publication, keeps one recovery request in flight
 * per topic, and turns subscribe replies into `recovery` / `discontinuity` outcomes.
 *
 * @module
 */
import type { DedupWindow, SequenceVerdict, TopicPosition, TopicSequencer } from "../wasm/api.ts";
import type { DiscontinuityPayload } from "./events.ts";

/** What to do with one inbound event. */
export type Verdict = SequenceVerdict | "unstamped";

/** One topic's entry in a subscription reply's `recovery` map. */
export interface RecoveryInfo {
  epoch?: string | null;
  offset?: number;
  recovered?: boolean;
  count?: number;
  reason?: string;
}

/** What a subscription reply meant for a topic. */
export type ReplyOutcome =
  | { kind: "recovered"; count: number }
  | { kind: "discontinuity"; payload: DiscontinuityPayload }
  | { kind: "none" };

/** Sequencer statistics for `getStats().sequencer`. */
export interface SequencerStats {
  duplicateWindowSize: number;
  topicPositions: number;
  duplicatesDetected: number;
  gapsDetected: number;
  recoveryRequests: number;
  recoveriesSucceeded: number;
  discontinuities: number;
}

/** Ordering and recovery state of one client, kept across reconnects. */
export class RecoveryTracker {
  readonly #sequencer: TopicSequencer;
  readonly #dedup: DedupWindow;
  readonly #inFlight = new Map<string, number>();
  /**
   * Per topic, the position the sequencer reached with the last `deliver` verdict, so that
   * `classify` needs no `position()` call per event (only a `rebaseline` reads it). Dropped on
   * every other verdict, `reset` and `forget`: the next event then reads the sequencer again.
   */
  readonly #delivered = new Map<string, TopicPosition>();
  readonly #requestTimeout: number;
  readonly #now: () => number;
  /** The position a topic had before the most recent `rebaseline` verdict. */
  lastRebaselineFrom?: TopicPosition;
  #duplicates = 0;
  #gaps = 0;
  #requests = 0;
  #recovered = 0;
  #discontinuities = 0;

  /** Wraps a sequencer and a dedup window; a recovery request older than `requestTimeout` ms may be retried. */
  constructor(sequencer: TopicSequencer, dedup: DedupWindow, requestTimeout = 10_000, now: () => number = Date.now) {
    this.#sequencer = sequencer;
    this.#dedup = dedup;
    this.#requestTimeout = requestTimeout;
    this.#now = now;
  }

  /**
   * Classifies an event: stamped ones by `(topic, epoch, offset)`, then every one with an id
   * through the dedup window. `duplicate` and `gap` must not be delivered.
   */
  classify(event: { id?: string; topic?: string; epoch?: string; offset?: number }): Verdict {
    let verdict: Verdict = "unstamped";
    const stamped = typeof event.topic === "string" && typeof event.epoch === "string" &&
      Number.isSafeInteger(event.offset) && event.offset! >= 0;
    if (stamped) {
      const topic = event.topic!;
      const known = this.#delivered.get(topic);
      const before = known ?? this.#sequencer.position(topic);
      verdict = this.#sequencer.check(topic, event.epoch!, event.offset!);
      if (verdict === "deliver") {
        // The sequencer's position is now exactly this event's (epoch, offset).
        if (known) {
          known.epoch = event.epoch!;
          known.offset = event.offset!;
        } else this.#delivered.set(topic, { epoch: event.epoch!, offset: event.offset! });
      } else this.#delivered.delete(topic);
      if (verdict === "rebaseline") {
        this.lastRebaselineFrom = before && { epoch: before.epoch, offset: before.offset };
        this.#discontinuities++;
      }
      if (verdict === "gap") {
        this.#gaps++;
        return verdict;
      }
      if (verdict === "duplicate") {
        this.#duplicates++;
        return verdict;
      }
    }
    if (event.id !== undefined && this.#dedup.seen(event.id)) {
      this.#duplicates++;
      return "duplicate";
    }
    return verdict;
  }

  /** Position of a topic, if known. */
  position(topic: string): TopicPosition | undefined {
    return this.#sequencer.position(topic);
  }

  /** Every known position. */
  positions(): Record<string, TopicPosition> {
    return this.#sequencer.positions();
  }

  /** The `recovery` map of a subscribe request for `topics` (only topics with a position). */
  recoveryMap(topics: readonly string[]): Record<string, TopicPosition> {
    const map: Record<string, TopicPosition> = {};
    for (const topic of topics) {
      const pos = this.#sequencer.position(topic);
      if (pos) map[topic] = { epoch: pos.epoch, offset: pos.offset };
    }
    return map;
  }

  /** Claims the single recovery slot of `topic`; false while another request is in flight. */
  beginRecovery(topic: string): boolean {
    const started = this.#inFlight.get(topic);
    if (started !== undefined && this.#now() - started < this.#requestTimeout) return false;
    this.#inFlight.set(topic, this.#now());
    this.#requests++;
    return true;
  }

  /** True while a recovery request for `topic` awaits its reply. */
  recovering(topic: string): boolean {
    return this.#inFlight.has(topic);
  }

  /** Releases the recovery slot of `topic`. */
  endRecovery(topic: string): void {
    this.#inFlight.delete(topic);
  }

  /**
   * Applies one topic's entry of a subscription reply. `recovered:true` → the replay follows
   * (position untouched); `recovered:false` → re-baseline forward to the server's position and
   * report a discontinuity if the application actually missed something.
   */
  applyReply(topic: string, info: RecoveryInfo | undefined, requestedFrom: TopicPosition | undefined): ReplyOutcome {
    this.endRecovery(topic);
    if (!info || typeof info !== "object") return { kind: "none" };
    const epoch = typeof info.epoch === "string" ? info.epoch : null;
    const offset = typeof info.offset === "number" ? info.offset : -2;
    const current = this.#sequencer.position(topic);
    if (info.recovered === true && requestedFrom) {
      this.#recovered++;
      return { kind: "recovered", count: typeof info.count === "number" ? info.count : 0 };
    }
    this.#delivered.delete(topic);
    if (epoch !== null && offset >= 0) {
      const ahead = current && current.epoch === epoch && current.offset >= offset;
      if (!ahead) this.#sequencer.reset(topic, epoch, offset);
    } else if (info.recovered === false && (current === undefined || current.epoch !== epoch || epoch === null)) {
      // The stream is empty (e.g. a restarted memory broker): its first publication starts it.
      this.#sequencer.forget(topic);
    }
    if (!requestedFrom) return { kind: "none" };
    const missedNothing = epoch === requestedFrom.epoch && offset <= requestedFrom.offset;
    const alreadyReported = current !== undefined && current.epoch !== requestedFrom.epoch && current.epoch === epoch;
    if (missedNothing || alreadyReported) return { kind: "none" };
    this.#discontinuities++;
    return {
      kind: "discontinuity",
      payload: {
        topic,
        reason: info.reason ?? (epoch !== requestedFrom.epoch ? "epoch_changed" : "recovery_failed"),
        previous: { epoch: requestedFrom.epoch, offset: requestedFrom.offset },
        current: { epoch, offset },
      },
    };
  }

  /** Forgets a topic (after unsubscribe). */
  forget(topic: string): void {
    this.#delivered.delete(topic);
    this.#sequencer.forget(topic);
    this.#inFlight.delete(topic);
  }

  /** Snapshot for `getStats()`. */
  getStats(): SequencerStats {
    return {
      duplicateWindowSize: this.#dedup.size,
      topicPositions: Object.keys(this.#sequencer.positions()).length,
      duplicatesDetected: this.#duplicates,
      gapsDetected: this.#gaps,
      recoveryRequests: this.#requests,
      recoveriesSucceeded: this.#recovered,
      discontinuities: this.#discontinuities,
    };
  }
}
