/**
 * A recording WebSocket test client that decodes every frame with the shared codec (text, `C:`,
 * `Z:`, `E:`, msgpack). Runtime-neutral (standard `WebSocket`), so the Bun and Deno host tests
 * share it. Not part of the public API.
 *
 * @module
 */
import type { SessionKey } from "../wasm/api.ts";
import { decodeFrame, encodeFrame } from "../wasm/frame.ts";
import { type Envelope, parseEnvelope } from "../wasm/envelope.ts";
import { nativeCodec } from "../wasm/native.ts";

/** One received frame. */
export interface Received {
  /** Text or binary frame. */
  kind: "text" | "binary";
  /** The raw text, or the first two bytes of a binary frame as text (its prefix). */
  prefix: string;
  /** The decoded envelope (undefined if undecodable). */
  env?: Envelope;
  /** The raw JSON text (for key-order checks), when JSON. */
  text?: string;
}

/** A recording client. */
export class TestClient {
  readonly frames: Received[] = [];
  closed: { code: number; reason: string } | null = null;
  key: SessionKey | null = null;
  readonly #ws: WebSocket;
  #waiters = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => {
      const data = typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer);
      const r: Received = {
        kind: typeof data === "string" ? "text" : "binary",
        prefix: typeof data === "string" ? data.slice(0, 2) : String.fromCharCode(data[0] ?? 0, data[1] ?? 0),
      };
      try {
        const frame = decodeFrame(data, nativeCodec, { key: this.key ?? undefined });
        if (frame.format === "json") r.text = frame.text;
        r.env = parseEnvelope(frame, { maxDepth: 128 });
      } catch {
        // left undecoded
      }
      this.frames.push(r);
      this.#wake();
    };
    ws.onclose = (ev) => {
      this.closed = { code: ev.code, reason: ev.reason };
      this.#wake();
    };
  }

  /** Opens a socket and waits for it to be open. */
  static connect(url: string, headers?: Record<string, string>): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, headers ? ({ headers } as unknown as string[]) : undefined);
      const client = new TestClient(ws);
      const timer = setTimeout(() => reject(new Error("connect timeout")), 5000);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(client);
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new Error("connect failed"));
      };
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Sends an envelope (JSON text, or `E:` when `encrypt` and a key exists). */
  send(envelope: unknown, encrypt = false): void {
    const json = JSON.stringify(envelope);
    this.sendRaw(encrypt && this.key ? encodeFrame(json, nativeCodec, { key: this.key }) : json);
  }

  /** Sends a raw frame. */
  sendRaw(data: string | Uint8Array): void {
    // Deno's lib types want an ArrayBuffer-backed view; every frame here is one.
    this.#ws.send(data as string | Uint8Array<ArrayBuffer>);
  }

  /** Waits for the first frame at index ≥ `from` matching `pred`. */
  waitFor(pred: (r: Received) => boolean, timeoutMs = 3000, from = 0): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.frames.length; i++) {
          if (pred(this.frames[i]!)) {
            cleanup();
            resolve(this.frames[i]!);
            return true;
          }
        }
        if (this.closed) {
          cleanup();
          reject(new Error(`closed ${this.closed.code} while waiting`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timeout; got ${this.frames.map((f) => f.env?.t ?? f.prefix).join(",")}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      if (!check()) this.#waiters.add(check);
    });
  }

  /** Waits for a frame of type `t`. */
  waitType(t: string, timeoutMs = 3000, from = 0): Promise<Envelope> {
    return this.waitFor((r) => r.env?.t === t, timeoutMs, from).then((r) => r.env!);
  }

  /** Waits until `n` publications of `topic` arrived (from index `from`). */
  async waitPublications(topic: string, n: number, timeoutMs = 3000, from = 0): Promise<Envelope[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.publications(topic, from);
      if (got.length >= n) return got;
      if (Date.now() > deadline) throw new Error(`got ${got.length}/${n} publications of ${topic}`);
      await this.waitFor(() => this.publications(topic, from).length >= n || false, Math.max(1, deadline - Date.now()), from).catch(() => {});
    }
  }

  /** Publications of a topic received so far. */
  publications(topic: string, from = 0): Envelope[] {
    return this.frames.slice(from).flatMap((r) => (r.env?.tp === topic ? [r.env] : []));
  }

  /** Waits for the close. */
  waitClose(timeoutMs = 3000): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.closed) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve(this.closed);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error("no close"));
      }, timeoutMs);
      if (!check()) this.#waiters.add(check);
    });
  }

  /** Sends client_hello (optionally with a key exchange) and waits for server_hello. */
  async hello(features: Record<string, unknown> = {}, encryption = false): Promise<Envelope> {
    const from = this.frames.length;
    const p: Record<string, unknown> = { client_version: "test", protocol_version: 2, features: { ...features, encryption } };
    const pair = encryption ? nativeCodec.generateKeyPair() : null;
    if (pair) p.encryption_public_key = Buffer.from(pair.publicKey).toString("base64");
    this.send({ c: "WSE", t: "client_hello", v: 1, p });
    const hello = await this.waitType("server_hello", 3000, from);
    const serverKey = hello.p.encryption_public_key;
    if (pair && typeof serverKey === "string") this.key = pair.deriveKey(new Uint8Array(Buffer.from(serverKey, "base64")));
    return hello;
  }

  /** Subscribes and waits for the reply. */
  async subscribe(topics: string[], extra: Record<string, unknown> = {}, encrypt = false): Promise<Envelope> {
    const from = this.frames.length;
    this.send({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics, ...extra } }, encrypt);
    return this.waitType("subscription_update", 3000, from);
  }

  /** Closes the socket. */
  close(): void {
    try {
      this.#ws.close();
    } catch {
      // gone
    }
  }
}
