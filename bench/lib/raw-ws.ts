/**
 * A minimal WebSocket client over a raw TCP socket (`Bun.connect`), built for load generation:
 * one JS callback per TCP read instead of one event per message, frames parsed in place, and no
 * library between the generator and the wire. It speaks RFC 6455 without extensions: masked
 * client frames, unmasked server frames, fragmentation, ping/pong and close.
 *
 * @example
 * ```ts
 * import { connectRawWs } from "./raw-ws.ts";
 * const ws = await connectRawWs({ host: "127.0.0.1", port: 5007, path: "/wse" }, {
 *   onMessage(conn, opcode, bytes, start, end) { console.log(opcode, end - start); },
 *   onClose(conn, code) { console.log("closed", code); },
 * });
 * ws.sendText('{"t":"ping","p":{}}');
 * ```
 * @module
 */
import type { Socket } from "bun";

/** Opcode of a text frame. */
export const OP_TEXT = 1;
/** Opcode of a binary frame. */
export const OP_BINARY = 2;
const OP_CONTINUATION = 0;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;

const utf8 = new TextEncoder();
let readCount = 0;
const latin1 = new TextDecoder("latin1");

/** TCP reads handled so far by every connection of this process (a diagnostic: messages per read). */
export function readsSoFar(): number {
  return readCount;
}

/** Where to connect. */
export interface RawWsTarget {
  /** Host or IP to connect to (loopback only in this project). */
  host: string;
  /** TCP port. */
  port: number;
  /** Request path including the query string, e.g. `/wse?format=json`. */
  path: string;
  /** Extra request headers (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Give up on the TCP connect + upgrade after this long (default 10 s). */
  timeoutMs?: number;
}

/**
 * Callbacks of one connection. A message's payload is `bytes[start, end)`, handed over in place
 * (no copy, no view object per frame) and only valid during the call.
 */
export interface RawWsHandlers {
  /**
   * A complete data message (text or binary, reassembled when fragmented). `read` numbers the
   * TCP reads of all connections: messages that arrived in the same read share it.
   */
  onMessage(conn: RawWsConnection, opcode: number, bytes: Uint8Array, start: number, end: number, read: number): void;
  /** The connection ended (close frame, TCP end or error); called once. */
  onClose?(conn: RawWsConnection, code: number, reason: string): void;
}

/** One client connection. */
export class RawWsConnection {
  /** Free slot for the owner's per-connection state. */
  state: unknown = undefined;
  /** True once the upgrade completed and until the socket closes. */
  open = false;
  #socket: Socket<RawWsConnection> | null = null;
  #pending: Uint8Array | null = null;
  #fragments: Uint8Array[] = [];
  #fragmentOpcode = 0;
  #outbox: Uint8Array[] = [];
  #closed = false;
  #handshakeDone = false;
  #headerText = "";
  #upgrade: { resolve: () => void; reject: (e: Error) => void } | null = null;

  /** @internal */
  constructor(readonly handlers: RawWsHandlers) {}

  /** @internal attaches the TCP socket. */
  attach(socket: Socket<RawWsConnection>): void {
    this.#socket = socket;
  }

  /** @internal resolves once the HTTP upgrade is answered with 101. */
  waitUpgrade(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#upgrade = { resolve, reject };
    });
  }

  /** Sends a text frame. */
  sendText(text: string): void {
    this.#sendFrame(OP_TEXT, utf8.encode(text));
  }

  /** Sends a binary frame. */
  sendBinary(bytes: Uint8Array): void {
    this.#sendFrame(OP_BINARY, bytes);
  }

  /** Sends a close frame and ends the socket. */
  close(code = 1000): void {
    if (this.#closed) return;
    const body = new Uint8Array(2);
    body[0] = code >> 8;
    body[1] = code & 0xff;
    if (this.open) this.#sendFrame(OP_CLOSE, body);
    this.#finish(code, "client close");
    this.#socket?.end();
  }

  /** Ends the TCP socket at once without a close frame. */
  destroy(): void {
    this.#finish(1006, "destroyed");
    this.#socket?.terminate();
  }

  #sendFrame(opcode: number, payload: Uint8Array): void {
    if (this.#closed || !this.#socket) return;
    const length = payload.length;
    const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const frame = new Uint8Array(headerLength + 4 + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) {
      frame[1] = 0x80 | length;
    } else if (length < 65536) {
      frame[1] = 0x80 | 126;
      frame[2] = length >> 8;
      frame[3] = length & 0xff;
    } else {
      frame[1] = 0x80 | 127;
      new DataView(frame.buffer).setBigUint64(2, BigInt(length));
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    frame.set(mask, headerLength);
    const start = headerLength + 4;
    for (let i = 0; i < length; i++) frame[start + i] = payload[i]! ^ mask[i & 3]!;
    this.#write(frame);
  }

  #write(bytes: Uint8Array): void {
    if (this.#outbox.length > 0) {
      this.#outbox.push(bytes);
      return;
    }
    const written = this.#socket!.write(bytes);
    if (written < bytes.length) this.#outbox.push(bytes.subarray(Math.max(0, written)));
  }

  /** @internal flushes queued bytes when the socket drains. */
  drain(): void {
    while (this.#outbox.length > 0) {
      const head = this.#outbox[0]!;
      const written = this.#socket!.write(head);
      if (written < head.length) {
        this.#outbox[0] = head.subarray(Math.max(0, written));
        return;
      }
      this.#outbox.shift();
    }
  }

  /** @internal handles one TCP read. */
  receive(chunk: Uint8Array): void {
    const read = ++readCount;
    if (!this.#handshakeDone) {
      chunk = this.#receiveUpgrade(chunk);
      if (!this.#handshakeDone || chunk.length === 0) return;
    }
    let data = chunk;
    if (this.#pending) {
      const merged = new Uint8Array(this.#pending.length + chunk.length);
      merged.set(this.#pending, 0);
      merged.set(chunk, this.#pending.length);
      data = merged;
      this.#pending = null;
    }
    let at = 0;
    const end = data.length;
    while (at + 2 <= end && !this.#closed) {
      const b0 = data[at]!;
      const b1 = data[at + 1]!;
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (at + 4 > end) break;
        length = (data[at + 2]! << 8) | data[at + 3]!;
        header = 4;
      } else if (length === 127) {
        if (at + 10 > end) break;
        length = Number(new DataView(data.buffer, data.byteOffset + at + 2, 8).getBigUint64(0));
        header = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) header += 4;
      if (at + header + length > end) break;
      const start = at + header;
      at = start + length;
      if ((b0 & 0x80) !== 0 && !masked && (b0 & 0x0f) !== 0 && (b0 & 0x0f) < 8) {
        this.handlers.onMessage(this, b0 & 0x0f, data, start, at, read);
        continue;
      }
      let payload = data.subarray(start, at);
      if (masked) {
        const key = data.subarray(start - 4, start);
        payload = payload.slice();
        for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
      }
      this.#frame(b0, payload, read);
    }
    if (at < end && !this.#closed) this.#pending = data.slice(at);
  }

  #frame(b0: number, payload: Uint8Array, read: number): void {
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (opcode === OP_PING) {
      this.#sendFrame(OP_PONG, payload.slice());
      return;
    }
    if (opcode === OP_PONG) return;
    if (opcode === OP_CLOSE) {
      const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
      const reason = payload.length > 2 ? new TextDecoder().decode(payload.subarray(2)) : "";
      if (this.open) this.#sendFrame(OP_CLOSE, payload.slice(0, 2));
      this.#finish(code, reason);
      this.#socket?.end();
      return;
    }
    if (opcode === OP_CONTINUATION) {
      this.#fragments.push(payload.slice());
      if (!fin) return;
      const total = this.#fragments.reduce((n, f) => n + f.length, 0);
      const whole = new Uint8Array(total);
      let offset = 0;
      for (const f of this.#fragments) {
        whole.set(f, offset);
        offset += f.length;
      }
      this.#fragments = [];
      this.handlers.onMessage(this, this.#fragmentOpcode, whole, 0, whole.length, read);
      return;
    }
    if (!fin) {
      this.#fragmentOpcode = opcode;
      this.#fragments = [payload.slice()];
      return;
    }
    this.handlers.onMessage(this, opcode, payload, 0, payload.length, read);
  }

  #receiveUpgrade(chunk: Uint8Array): Uint8Array {
    this.#headerText += latin1.decode(chunk);
    const headerEnd = this.#headerText.indexOf("\r\n\r\n");
    if (headerEnd < 0) {
      if (this.#headerText.length > 16384) this.#failUpgrade("upgrade response header too large");
      return new Uint8Array(0);
    }
    const statusLine = this.#headerText.slice(0, this.#headerText.indexOf("\r\n"));
    if (!/^HTTP\/1\.1 101 /.test(statusLine)) {
      this.#failUpgrade(`upgrade refused: ${statusLine}`);
      return new Uint8Array(0);
    }
    const headerBytes = headerEnd + 4;
    const consumedBefore = this.#headerText.length - chunk.length;
    this.#handshakeDone = true;
    this.open = true;
    this.#headerText = "";
    this.#upgrade?.resolve();
    this.#upgrade = null;
    return chunk.subarray(headerBytes - consumedBefore);
  }

  #failUpgrade(message: string): void {
    this.#upgrade?.reject(new Error(message));
    this.#upgrade = null;
    this.#finish(1006, message);
    this.#socket?.terminate();
  }

  /** @internal marks the connection closed and tells the owner once. */
  finish(code: number, reason: string): void {
    this.#finish(code, reason);
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.open = false;
    this.#upgrade?.reject(new Error(`connection closed before upgrade: ${reason}`));
    this.#upgrade = null;
    this.handlers.onClose?.(this, code, reason);
  }
}

function upgradeRequest(target: RawWsTarget): string {
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  let request =
    `GET ${target.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  for (const [name, value] of Object.entries(target.headers ?? {})) request += `${name}: ${value}\r\n`;
  return request + "\r\n";
}

/**
 * Opens a TCP connection, performs the HTTP upgrade and resolves with the open connection.
 * `state` is set before any frame is delivered (frames can arrive with the 101 response). Rejects on refusal, TCP error or timeout; never leaves a socket behind on failure.
 */
export async function connectRawWs(target: RawWsTarget, handlers: RawWsHandlers, state?: unknown): Promise<RawWsConnection> {
  const conn = new RawWsConnection(handlers);
  conn.state = state;
  const upgraded = conn.waitUpgrade();
  upgraded.catch(() => {});
  const socket = await Bun.connect<RawWsConnection>({
    hostname: target.host,
    port: target.port,
    data: conn,
    socket: {
      binaryType: "uint8array",
      data(s, chunk) {
        s.data.receive(chunk);
      },
      drain(s) {
        s.data.drain();
      },
      close(s) {
        s.data.finish(1006, "tcp closed");
      },
      error(s, error) {
        s.data.finish(1006, `tcp error: ${error.message}`);
      },
      connectError(s, error) {
        s.data.finish(1006, `connect error: ${error.message}`);
      },
    },
  });
  conn.attach(socket);
  socket.write(upgradeRequest(target));
  const timeoutMs = target.timeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`upgrade timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([upgraded, timeout]);
  } catch (error) {
    conn.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return conn;
}
