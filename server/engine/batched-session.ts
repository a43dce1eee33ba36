/**
 * The session the engine creates: a `Session` whose individually fanned-out frames (encrypted
 * connections) are coalesced by the engine's `WriteBatcher` into one corked write per turn.
 *
 * Order on the wire is exactly the order of the calls: while the connection has frames queued,
 * any other frame it sends (a reply, a PONG, an error) is queued behind them, and the queue is
 * written before the close frame.
 *
 * @module
 */
import { Session } from "./session.ts";
import type { BatchTarget, Frame } from "./write-batch.ts";

/**
 * A session with write coalescing (see the module doc). It adds no per-connection state: the
 * queue lives in the engine's `writeBatch`.
 */
export class BatchedSession extends Session implements BatchTarget {
  /** Queues a frame to be written at the end of this turn, after anything queued before (HubMember). */
  queueFrame(frame: Frame): void {
    if (!this.closed) this.engine.writeBatch.queue(this, frame);
  }

  /** Sends a frame now, or behind the queued ones while there are any. */
  override sendFrame(frame: Frame): void {
    const batch = this.engine.writeBatch;
    if (batch.has(this)) batch.queue(this, frame);
    else super.sendFrame(frame);
  }

  /** Writes the queued frames, then starts the close handshake. */
  override close(code: number, reason: string): void {
    if (!this.closed) this.engine.writeBatch.flushTarget(this);
    super.close(code, reason);
  }

  /** Writes frames in order inside one cork (one socket write on Bun) (BatchTarget). */
  writeFrames(frames: readonly Frame[]): void {
    if (this.closed) return;
    const socket = this.socket;
    if (frames.length > 1 && socket.cork) {
      socket.cork(() => this.#writeEach(frames));
    } else {
      this.#writeEach(frames);
    }
  }

  #writeEach(frames: readonly Frame[]): void {
    // super.sendFrame counts, watches backpressure, and stops once a slow consumer is closed.
    for (let i = 0; i < frames.length && !this.closed; i++) super.sendFrame(frames[i]!);
  }
}
