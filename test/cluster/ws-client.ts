/**
 * A raw WebSocket test client for the cluster suite: performs the WSE handshake, subscribes
 * (with recovery positions and presence), and records every publication and system message it
 * receives, decoding `C:` (zlib) frames. No project client code, so it tests the wire.
 *
 * @module
 */
import { inflateSync } from "node:zlib";

/** A received envelope (parsed JSON). */
export type Envelope = Record<string, unknown> & { t?: string; p?: Record<string, unknown> };

/** A publication as received: topic, epoch, offset and the envelope. */
export interface Received {
  topic: string;
  epoch: string;
  offset: number;
  envelope: Envelope;
}

/** A connected test client. */
export class WsClient {
  /** Every envelope received, in order. */
  readonly messages: Envelope[] = [];
  /** Every publication received (stamped with `tp`/`e`/`o`), in order. */
  readonly publications: Received[] = [];
  /** Close code once the socket closed. */
  closeCode: number | null = null;
  /** Connection id from `server_ready`. */
  connectionId = "";

  private constructor(private readonly socket: WebSocket) {}

  /** Connects to `url` (ws://host:port/wse[?token=…]) and completes the handshake. */
  static async connect(url: string, timeoutMs = 5_000): Promise<WsClient> {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const client = new WsClient(socket);
    socket.addEventListener("message", (event) => client.receive(event.data));
    socket.addEventListener("close", (event) => (client.closeCode = event.code));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect to ${url} timed out`)), timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`connect to ${url} failed`));
      });
    });
    const ready = await client.waitFor((m) => m.t === "server_ready", timeoutMs);
    client.connectionId = String((ready.p?.details as Record<string, unknown> | undefined)?.connection_id ?? "");
    client.send({ c: "WSE", t: "client_hello", v: 1, p: { client_version: "cluster-test", protocol_version: 2, features: {} } });
    await client.waitFor((m) => m.t === "server_hello", timeoutMs);
    return client;
  }

  private receive(data: unknown): void {
    let text: string;
    if (typeof data === "string") text = data;
    else {
      const bytes = new Uint8Array(data as ArrayBuffer);
      const prefix = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0);
      if (prefix !== "C:") return; // this client never asks for msgpack, zstd or encryption
      text = inflateSync(bytes.subarray(2)).toString("utf8");
    }
    for (const prefix of ["WSE{", "S{", "U{"]) if (text.startsWith(prefix)) text = text.slice(prefix.length - 1);
    const envelope = JSON.parse(text) as Envelope;
    this.messages.push(envelope);
    if (typeof envelope.tp === "string" && typeof envelope.e === "string" && typeof envelope.o === "number") {
      this.publications.push({ topic: envelope.tp, epoch: envelope.e, offset: envelope.o, envelope });
    }
  }

  /** Sends one envelope as a text frame. */
  send(envelope: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(envelope));
  }

  /** Waits for a message matching `match` (looking at what already arrived too). */
  async waitFor(match: (message: Envelope) => boolean, timeoutMs = 5_000, from = 0): Promise<Envelope> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.messages.length; i++) if (match(this.messages[i]!)) return this.messages[i]!;
      if (Date.now() > deadline) {
        throw new Error(`no matching message within ${timeoutMs} ms; got: ${this.messages.slice(-5).map((m) => m.t).join(", ")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Subscribes and resolves with the `subscription_update` reply payload. */
  async subscribe(
    topics: string[],
    options: { recovery?: Record<string, { epoch: string; offset: number }>; presence?: Record<string, unknown> } = {},
  ): Promise<Record<string, unknown>> {
    const from = this.messages.length;
    const cid = crypto.randomUUID();
    const payload: Record<string, unknown> = { action: "subscribe", topics };
    if (options.recovery) {
      payload.recover = true;
      payload.recovery = options.recovery;
    }
    if (options.presence) payload.presence = options.presence;
    this.send({ c: "WSE", t: "subscription_update", cid, p: payload });
    const reply = await this.waitFor((m) => m.t === "subscription_update" && (m.p as Record<string, unknown>)?.action === "subscribe", 5_000, from);
    return reply.p as Record<string, unknown>;
  }

  /** The last (epoch, offset) received on a topic, or null. */
  position(topic: string): { epoch: string; offset: number } | null {
    for (let i = this.publications.length - 1; i >= 0; i--) {
      const p = this.publications[i]!;
      if (p.topic === topic) return { epoch: p.epoch, offset: p.offset };
    }
    return null;
  }

  /** Offsets received on a topic, in arrival order. */
  offsets(topic: string): number[] {
    return this.publications.filter((p) => p.topic === topic).map((p) => p.offset);
  }

  /** Closes the socket and waits for the close event. */
  async close(): Promise<void> {
    if (this.closeCode !== null) return;
    const closed = new Promise<void>((resolve) => this.socket.addEventListener("close", () => resolve()));
    this.socket.close(1000, "test done");
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  }
}
