/**
 * The client's delivery bookkeeping over the WASM core: the per-topic `(epoch, offset)`
 * sequencer of PROTOCOL.md §4 and the message-id dedup window. Semantics are documented on
 * `TopicSequencer` and `DedupWindow` in `./api.ts`.
 *
 * @example
 * ```ts
 * import { createSequencer } from "./sequencing.ts";
 * const seq = createSequencer();
 * seq.check("prices", "0000beef", 41); // "deliver" (first sight starts the position)
 * seq.check("prices", "0000beef", 43); // "gap"
 * ```
 * @module
 */
import { CodecError, type DedupWindow, type SequenceVerdict, type TopicPosition, type TopicSequencer } from "./api.ts";
import * as core from "./gen/wse_codec.js";

/** Default number of ids a dedup window holds. */
export const DEFAULT_DEDUP_CAPACITY = 10_000;
/** Default age after which a dedup window forgets an id: 5 minutes. */
export const DEFAULT_DEDUP_MAX_AGE_MS = 5 * 60 * 1000;

const VERDICTS: readonly SequenceVerdict[] = ["deliver", "duplicate", "gap", "rebaseline"];

function checkOffset(offset: number): number {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new CodecError("BAD_FRAME", `offset must be a non-negative integer, got ${String(offset)}`);
  }
  return offset;
}

function checkText(value: string, what: string): string {
  if (typeof value !== "string") throw new CodecError("BAD_FRAME", `${what} must be a string`);
  return value;
}

class WasmTopicSequencer implements TopicSequencer {
  readonly #core = new core.WasmSequencer();

  check(topic: string, epoch: string, offset: number): SequenceVerdict {
    const verdict = this.#core.check(checkText(topic, "topic"), checkText(epoch, "epoch"), checkOffset(offset));
    return VERDICTS[verdict]!;
  }
  reset(topic: string, epoch: string, offset: number): void {
    this.#core.reset(checkText(topic, "topic"), checkText(epoch, "epoch"), checkOffset(offset));
  }
  position(topic: string): TopicPosition | undefined {
    const epoch = this.#core.epoch(checkText(topic, "topic"));
    return epoch === undefined ? undefined : { epoch, offset: this.#core.offset(topic) };
  }
  forget(topic: string): void {
    this.#core.forget(checkText(topic, "topic"));
  }
  positions(): Record<string, TopicPosition> {
    const all: Record<string, TopicPosition> = {};
    for (const topic of this.#core.topics()) {
      const position = this.position(topic);
      if (position) all[topic] = position;
    }
    return all;
  }
}

class WasmDedupWindow implements DedupWindow {
  readonly #core: core.WasmDedupWindow;
  constructor(capacity: number, maxAgeMs: number) {
    this.#core = new core.WasmDedupWindow(capacity, maxAgeMs);
  }
  seen(id: string, nowMs?: number): boolean {
    const now = typeof nowMs === "number" && Number.isFinite(nowMs) ? nowMs : Date.now();
    return this.#core.seen(checkText(id, "id"), now);
  }
  get size(): number {
    return this.#core.size();
  }
  clear(): void {
    this.#core.clear();
  }
}

/** A fresh per-topic sequencer. Offsets must be non-negative safe integers (else `BAD_FRAME`). */
export function createSequencer(): TopicSequencer {
  return new WasmTopicSequencer();
}

/**
 * A fresh dedup window of `capacity` ids (default 10,000, at least 1), each remembered for
 * `maxAgeMs` (default 5 minutes; `Infinity` or ≤ 0 = no age limit). The oldest ids leave first.
 */
export function createDedupWindow(
  capacity: number = DEFAULT_DEDUP_CAPACITY,
  maxAgeMs: number = DEFAULT_DEDUP_MAX_AGE_MS,
): DedupWindow {
  if (!Number.isFinite(capacity) || capacity < 0) {
    throw new CodecError("BAD_FRAME", `capacity must be a non-negative number, got ${String(capacity)}`);
  }
  return new WasmDedupWindow(Math.min(Math.floor(capacity), 0xffff_ffff), maxAgeMs);
}
