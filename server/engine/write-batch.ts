/**
 * Write coalescing for connections reached one by one (encrypted connections): frames queued
 * for a connection during one turn of the event loop are written together at the end of the
 * turn (a microtask), inside the socket's `cork` where the host has one (Bun), so a burst of
 * publications costs one socket write per connection instead of one per frame. Bun's native
 * topic publish batches the same way for plain connections.
 *
 * Order per connection is kept by the connection itself: while it has queued frames, every
 * other frame it sends joins the end of the same queue, and it writes the queue before it
 * closes (see `Session.sendFrame`, `Session.close`).
 *
 * @module
 */

/**
 * Frames a connection may have queued before they are written at once, mid-turn: bounds the
 * memory a long synchronous burst holds and lets the backpressure check see it in time.
 */
export const MAX_QUEUED_FRAMES = 256;

/** One encoded frame: text or binary. */
export type Frame = string | Uint8Array;

/** A connection whose queued frames the batcher writes. */
export interface BatchTarget {
  /** Writes frames in order, now (corked where the host can). */
  writeFrames(frames: readonly Frame[]): void;
}

/** Per-engine queue of frames to write at the end of the current turn. */
export class WriteBatcher {
  #pending = new Map<BatchTarget, Frame[]>();
  #scheduled = false;
  readonly #flush = (): void => this.flush();
  readonly #onError: (error: unknown) => void;

  /** `onError` hears about a target whose write threw (the others are still written). */
  constructor(onError: (error: unknown) => void = () => {}) {
    this.#onError = onError;
  }

  /** Queues a frame for `target`; the queue is written at the end of this turn. */
  queue(target: BatchTarget, frame: Frame): void {
    const frames = this.#pending.get(target);
    if (frames) {
      if (frames.push(frame) >= MAX_QUEUED_FRAMES) this.flushTarget(target);
      return;
    }
    this.#pending.set(target, [frame]);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** True while `target` has frames waiting (its other sends must then queue behind them). */
  has(target: BatchTarget): boolean {
    return this.#pending.size !== 0 && this.#pending.has(target);
  }

  /** Frames waiting over all targets. */
  get size(): number {
    let n = 0;
    for (const frames of this.#pending.values()) n += frames.length;
    return n;
  }

  /** Writes `target`'s queued frames now (before it closes, for instance). */
  flushTarget(target: BatchTarget): void {
    if (this.#pending.size === 0) return;
    const frames = this.#pending.get(target);
    if (!frames) return;
    this.#pending.delete(target);
    this.#write(target, frames);
  }

  /** Writes every queued frame now. Frames queued while writing wait for the next flush. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [target, frames] of pending) this.#write(target, frames);
  }

  #write(target: BatchTarget, frames: readonly Frame[]): void {
    try {
      target.writeFrames(frames);
    } catch (error) {
      this.#onError(error);
    }
  }
}
