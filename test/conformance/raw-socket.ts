/**
 * A WebSocket client over a bare TCP socket (`node:net`), with the RFC 6455 upgrade and framing
 * done by hand, so a test can stop reading from the kernel socket (`pause()`) the way a stuck
 * client does, then resume and see exactly what the server sent, including the close code.
 *
 * @module
 */
import { connect, type Socket } from "node:net";

/** One complete message received. */
export interface RawMessage {
  opcode: number;
  /** The payload (text messages decoded as UTF-8 in `text`). */
  data: Uint8Array;
  text?: string;
}

/** A hand-rolled WebSocket client on a TCP socket. */
export class RawWebSocket {
  /** Complete data messages received (text and binary). */
  readonly messages: RawMessage[] = [];
  /** Close code from the server's close frame, when one arrived. */
  closeCode: number | null = null;
  /** True once the TCP connection ended. */
  ended = false;
  /** Bytes received after the upgrade. */
  bytesReceived = 0;

  private buffer = new Uint8Array(0);
  private fragments: Uint8Array[] = [];
  private fragmentOpcode = 0;
  private upgraded = false;
  private upgradeWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private listeners = new Set<() => void>();

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(new Uint8Array(chunk)));
    socket.on("close", () => {
      this.ended = true;
      for (const w of this.upgradeWaiters) w.reject(new Error("socket closed before the upgrade"));
      this.upgradeWaiters = [];
      this.notify();
    });
    socket.on("error", () => undefined);
  }

  /** Connects to `ws://host:port/path?query` and performs the upgrade. */
  static async open(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<RawWebSocket> {
    const u = new URL(url);
    const socket = connect(Number(u.port), u.hostname);
    const client = new RawWebSocket(socket);
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw upgrade to ${url} timed out`)), timeoutMs);
      client.upgradeWaiters.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    return client;
  }

  /** Sends a masked text frame. */
  sendText(text: string): void {
    const payload = new TextEncoder().encode(text);
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const len = payload.length;
    const header = len < 126 ? [0x81, 0x80 | len] : len < 65536 ? [0x81, 0x80 | 126, len >> 8, len & 255] : null;
    if (!header) throw new Error("frame too large for this helper");
    const frame = new Uint8Array(header.length + 4 + len);
    frame.set(header, 0);
    frame.set(mask, header.length);
    for (let i = 0; i < len; i++) frame[header.length + 4 + i] = payload[i]! ^ mask[i % 4]!;
    this.socket.write(frame);
  }

  /** Stops reading from the socket (the kernel buffer fills, then the server's). */
  pause(): void {
    this.socket.pause();
  }

  /** Reads again. */
  resume(): void {
    this.socket.resume();
  }

  /** Closes the TCP connection. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Text messages received, parsed as JSON where possible. */
  jsonMessages(): Record<string, unknown>[] {
    return this.messages.flatMap((m) => {
      if (m.text === undefined) return [];
      try {
        return [JSON.parse(m.text)];
      } catch {
        return [];
      }
    });
  }

  /** Waits until `pred()` holds or the time is up; returns whether it held. */
  async until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 100));
        const listener = () => done();
        this.listeners.add(listener);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.listeners.clear();
    }
    return true;
  }

  private onData(chunk: Uint8Array): void {
    const merged = new Uint8Array(this.buffer.length + chunk.length);
    merged.set(this.buffer, 0);
    merged.set(chunk, this.buffer.length);
    this.buffer = merged;
    if (!this.upgraded) {
      const text = new TextDecoder("latin1").decode(this.buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const status = text.slice(0, text.indexOf("\r\n"));
      if (!/^HTTP\/1\.1 101/.test(status)) {
        for (const w of this.upgradeWaiters) w.reject(new Error(`upgrade refused: ${status}`));
        this.upgradeWaiters = [];
        return;
      }
      this.upgraded = true;
      this.buffer = this.buffer.subarray(end + 4);
      for (const w of this.upgradeWaiters) w.resolve();
      this.upgradeWaiters = [];
    }
    this.bytesReceived += chunk.length;
    this.parseFrames();
    this.notify();
  }

  private parseFrames(): void {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let pos = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = (b[2]! << 8) | b[3]!;
        pos = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
        pos = 10;
      }
      if (masked) pos += 4;
      if (b.length < pos + len) return;
      const payload = b.slice(pos, pos + len);
      this.buffer = b.subarray(pos + len);
      if (opcode === 0x8) {
        this.closeCode = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
        continue;
      }
      if (opcode === 0x9 || opcode === 0xa) continue; // ping/pong control frames
      if (opcode !== 0) {
        this.fragmentOpcode = opcode;
        this.fragments = [];
      }
      this.fragments.push(payload);
      if (!fin) continue;
      const total = this.fragments.reduce((n, f) => n + f.length, 0);
      const data = new Uint8Array(total);
      let off = 0;
      for (const f of this.fragments) {
        data.set(f, off);
        off += f.length;
      }
      this.fragments = [];
      const message: RawMessage = { opcode: this.fragmentOpcode, data };
      if (this.fragmentOpcode === 1) message.text = new TextDecoder().decode(data);
      this.messages.push(message);
    }
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}
