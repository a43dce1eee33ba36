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

/** Inbound silence after which a requested close goes out, ms (see `DenoSocket.close`). */
export const CLOSE_QUIET_MS = 25;
/** Longest a requested close waits for inbound silence, ms. */
export const CLOSE_LINGER_MAX_MS = 1000;

/**
 * A Deno `WebSocket` as the engine's `HostSocket`.
 *
 * Closing needs care on Deno (2.x): a server socket in CLOSING state closes its TCP stream as
 * soon as it reads any further data frame, without waiting for the peer's close frame. When the
 * peer is still sending (a flood that is being closed 4429/4400), unread bytes are left in the
 * kernel buffer, the kernel answers with RST, and the peer loses the close frame (it sees 1006).
 * So `close` waits until the peer has been silent for `CLOSE_QUIET_MS` (at most
 * `CLOSE_LINGER_MAX_MS`) before it sends the close frame; inbound frames in between are dropped.
 */
export class DenoSocket implements HostSocket, ChannelMember {
  readonly #ws: WebSocket;
  readonly #channels: ChannelMap<DenoSocket>;
  readonly #joined = new Set<string>();
  readonly #limit: number;
  readonly #onPressure: PressureHandler;
  #lastInbound = 0;
  #closeRequest: { code: number; reason: string; at: number } | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

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

  /** Records an inbound frame; false when the frame must be dropped (a close is pending). */
  noteInbound(): boolean {
    this.#lastInbound = Date.now();
    return this.#closeRequest === null;
  }

  /** True once `close` or `terminate` was called. */
  get closing(): boolean {
    return this.#closeRequest !== null;
  }

  /** Bytes queued, 0 when the socket is not open (or closing), -1 when the send passed the limit. */
  send(frame: string | Uint8Array): number {
    if (this.#ws.readyState !== WebSocket.OPEN || this.#closeRequest) return 0;
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

  /** Leaves every channel and starts the close handshake once the peer is silent (see the class doc). */
  close(code: number, reason: string): void {
    this.leaveAll();
    if (this.#closeRequest) return;
    this.#closeRequest = { code, reason, at: Date.now() };
    this.#closeWhenQuiet();
  }

  /** Stops the linger timer (the socket closed). */
  dispose(): void {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.leaveAll();
  }

  #closeWhenQuiet(): void {
    const request = this.#closeRequest;
    if (!request) return;
    const now = Date.now();
    const quietFor = now - this.#lastInbound;
    if (quietFor >= CLOSE_QUIET_MS || now - request.at >= CLOSE_LINGER_MAX_MS) {
      this.#closeTimer = undefined;
      this.#sendClose(request.code, request.reason);
      return;
    }
    this.#closeTimer = setTimeout(() => this.#closeWhenQuiet(), CLOSE_QUIET_MS - quietFor);
  }

  #sendClose(code?: number, reason?: string): void {
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
  getBufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /**
   * Deno cannot abort an upgraded connection's TCP stream; the best available is to stop
   * fanning out to it and send the close frame now, without waiting for silence.
   */
  terminate(): void {
    this.leaveAll();
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#closeRequest ??= { code: 1006, reason: "", at: Date.now() };
    this.#sendClose();
  }
}
