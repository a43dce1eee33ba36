/**
 * Sends WebSocket frames byte for byte, for the inputs a WebSocket API cannot produce (a text
 * frame with invalid UTF-8, a reserved opcode, RSV bits, an unmasked client frame). The
 * conformance suite's `RawWebSocket` only sends well-formed text, so this is a one-purpose
 * probe: upgrade, write the frames, read until the server closes, report the close code.
 *
 * @module
 */
import { connect } from "node:net";

/** Builds one client frame: `fin` + `opcode`, masked unless `mask` is false, optional RSV bits. */
export function buildFrame(opcode: number, payload: Uint8Array, options: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Uint8Array {
  const fin = options.fin ?? true;
  const masked = options.mask ?? true;
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 255);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  }
  const key = masked ? crypto.getRandomValues(new Uint8Array(4)) : new Uint8Array(0);
  const out = new Uint8Array(head.length + key.length + len);
  out.set(head, 0);
  out.set(key, head.length);
  const at = head.length + key.length;
  for (let i = 0; i < len; i++) out[at + i] = masked ? payload[i]! ^ key[i % 4]! : payload[i]!;
  return out;
}

/** What the server did with the raw frames. */
export interface RawOutcome {
  /** Close code from the server's close frame; null when the TCP connection ended without one. */
  closeCode: number | null;
  /** True when the server ended the TCP connection within the wait. */
  ended: boolean;
  /** Text messages received after the upgrade (server_ready, errors, …). */
  texts: string[];
}

/**
 * Upgrades `url`, writes `frames` once the first server message arrived, then waits up to
 * `waitMs` for the server to close. Always resolves (the socket is destroyed at the end).
 */
export function sendRawFrames(url: string, frames: Uint8Array[], waitMs = 3000): Promise<RawOutcome> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  socket.write(
    [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${key}`, "Sec-WebSocket-Version: 13", "", ""].join("\r\n"),
  );
  const outcome: RawOutcome = { closeCode: null, ended: false, texts: [] };
  let buffer = new Uint8Array(0);
  let upgraded = false;
  let sent = false;
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(finish, waitMs);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      outcome.ended = true;
      finish();
    });
    socket.on("data", (chunk: Buffer) => {
      const merged = new Uint8Array(buffer.length + chunk.length);
      merged.set(buffer);
      merged.set(chunk, buffer.length);
      buffer = merged;
      if (!upgraded) {
        const text = Buffer.from(buffer).toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!text.startsWith("HTTP/1.1 101")) return finish();
        upgraded = true;
        buffer = buffer.subarray(end + 4);
      }
      for (;;) {
        if (buffer.length < 2) break;
        const opcode = buffer[0]! & 0x0f;
        let len = buffer[1]! & 0x7f;
        let pos = 2;
        if (len === 126) {
          if (buffer.length < 4) break;
          len = (buffer[2]! << 8) | buffer[3]!;
          pos = 4;
        } else if (len === 127) {
          if (buffer.length < 10) break;
          len = Number(new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0));
          pos = 10;
        }
        if (buffer.length < pos + len) break;
        const payload = buffer.slice(pos, pos + len);
        buffer = buffer.subarray(pos + len);
        if (opcode === 0x8) {
          outcome.closeCode = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
          // Echo the close so the server finishes its side promptly.
          socket.write(buildFrame(0x8, payload.subarray(0, 2)));
        } else if (opcode === 0x1) {
          outcome.texts.push(Buffer.from(payload).toString("utf8"));
        }
      }
      if (!sent && outcome.texts.length > 0) {
        sent = true;
        for (const f of frames) socket.write(f);
      }
    });
  });
}
