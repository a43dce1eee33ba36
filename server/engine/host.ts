/**
 * What a runtime host (Bun, Deno) provides to the engine: a socket per connection and a
 * channel fan-out. Bun maps these onto `ws.subscribe` / `server.publish`; the Deno host keeps
 * its own channel → sockets map.
 *
 * @module
 */

/** One WebSocket as the engine sees it (Bun's `ServerWebSocket` fits as it is: no wrapper per connection). */
export interface HostSocket {
  /**
   * Sends a text (string) or binary frame. Returns the bytes queued, 0 when the frame was
   * dropped, or -1 when it was queued under backpressure (Bun's convention).
   */
  send(frame: string | Uint8Array): number;
  /** Starts a close handshake with this code and reason. */
  close(code: number, reason: string): void;
  /** Joins a fan-out channel. */
  subscribe(channel: string): void;
  /** Leaves a fan-out channel. */
  unsubscribe(channel: string): void;
  /** Bytes queued and not yet written. */
  getBufferedAmount(): number;
  /** Drops the connection without a close handshake (for consumers that stopped reading). */
  terminate(): void;
  /**
   * Runs `callback` with the socket corked: its sends are buffered and written together when it
   * returns (Bun). Optional: hosts without it (Deno) write each send as it comes.
   */
  cork?(callback: () => void): unknown;
}

/** Channel fan-out over all local sockets. */
export interface HostFanOut {
  /** Sends one frame to every socket subscribed to `channel`. */
  publish(channel: string, frame: string | Uint8Array): void;
}

/** What the host's upgrade step found out about a new connection (see `Engine.prepare`). */
export interface UpgradeData {
  /** Server-assigned connection id. */
  connectionId: string;
  /** The identity, or null when the connection must be refused after the upgrade. */
  identity: { userId: string; claims: Record<string, unknown>; acl: { allows(topic: string): boolean } | null } | null;
  /** When refused: error code, message and close code sent after the upgrade. */
  refusal?: { code: string; message: string; closeCode: number };
  /** `?format=msgpack`. */
  msgpack: boolean;
  /** `?topics=a,b` initial subscription. */
  initialTopics: string[];
  /** Remote address, when known. */
  remoteAddress?: string;
  /** Engine-owned per-connection state (set by `Engine.open`; hosts may instead keep the returned session). */
  session?: unknown;
}
