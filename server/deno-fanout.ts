/**
 * The Deno host's fan-out: Deno has no built-in WebSocket pub/sub, so this keeps its own map
 * channel → sockets, and `DenoSocket` adapts a Deno `WebSocket` to the engine's `HostSocket`
 * with `bufferedAmount`-based backpressure.
 *
 * @module
 */
import type { HostFanOut, HostSocket } from "./engine/host.ts";

/** What the fan-out needs from a socket. */
export interface ChannelMember {
  /** Sends one frame (see `HostSocket.send`). */
  send(frame: string | Uint8Array): number;
}

/** Channel → sockets map implementing the engine's `HostFanOut`. */
export class ChannelMap<M extends ChannelMember = ChannelMember> implements HostFanOut {
  readonly #channels = new Map<string, Set<M>>();

  /** Adds `member` to `channel`. */
  join(channel: string, member: M): void {
    let members = this.#channels.get(channel);
    if (!members) this.#channels.set(channel, (members = new Set()));
    members.add(member);
  }

  /** Removes `member` from `channel` (the channel disappears when empty). */
  leave(channel: string, member: M): void {
    const members = this.#channels.get(channel);
    if (!members) return;
    members.delete(member);
    if (members.size === 0) this.#channels.delete(channel);
  }

  /** Sends `frame` to every member of `channel`; a failing member never stops the others. */
  publish(channel: string, frame: string | Uint8Array): void {
    const members = this.#channels.get(channel);
    if (!members) return;
    for (const member of [...members]) {
      try {
        member.send(frame);
      } catch {
        // A broken socket is cleaned up by its close handler.
      }
    }
  }

  /** Members of `channel` (0 when unknown). */
  size(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  /** Number of channels with at least one member. */
  get channelCount(): number {
    return this.#channels.size;
  }
}

/** Called when a socket's buffered bytes passed the backpressure limit. */
export type PressureHandler = () => void;

/** A Deno `WebSocket` as the engine's `HostSocket`. */
export class DenoSocket implements HostSocket, ChannelMember {
  readonly #ws: WebSocket;
  readonly #channels: ChannelMap<DenoSocket>;
  readonly #joined = new Set<string>();
  readonly #limit: number;
  readonly #onPressure: PressureHandler;

  /**
   * Wraps `ws`. `limit` is the backpressure limit in bytes; `onPressure` runs when a send leaves
   * more than that buffered (the engine then closes the connection with 4008).
   */
  constructor(ws: WebSocket, channels: ChannelMap<DenoSocket>, limit: number, onPressure: PressureHandler) {
    this.#ws = ws;
    this.#channels = channels;
    this.#limit = limit;
    this.#onPressure = onPressure;
  }

  /** Bytes queued, 0 when the socket is not open, -1 when the send passed the limit. */
  send(frame: string | Uint8Array): number {
    if (this.#ws.readyState !== WebSocket.OPEN) return 0;
    try {
      this.#ws.send(frame as string | Uint8Array<ArrayBuffer>);
    } catch {
      return 0;
    }
    if (this.#ws.bufferedAmount > this.#limit) {
      queueMicrotask(this.#onPressure);
      return -1;
    }
    return typeof frame === "string" ? frame.length : frame.byteLength;
  }

  /** Starts the close handshake and leaves every channel. */
  close(code: number, reason: string): void {
    this.leaveAll();
    try {
      this.#ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  /** Joins a channel. */
  subscribe(channel: string): void {
    this.#joined.add(channel);
    this.#channels.join(channel, this);
  }

  /** Leaves a channel. */
  unsubscribe(channel: string): void {
    this.#joined.delete(channel);
    this.#channels.leave(channel, this);
  }

  /** Leaves every channel (on close). */
  leaveAll(): void {
    for (const channel of this.#joined) this.#channels.leave(channel, this);
    this.#joined.clear();
  }

  /** Bytes queued and not yet written. */
  bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /**
   * Deno cannot abort an upgraded connection's TCP stream; the best available is to stop
   * fanning out to it and re-issue the close.
   */
  terminate(): void {
    this.leaveAll();
    try {
      this.#ws.close();
    } catch {
      // already closing
    }
  }
}
