/**
 * A raw WSE client for the conformance suite: it connects, records every frame decoded by the
 * suite's own decoder (`frames.ts`), and offers `waitFor`-style helpers. It implements just enough
 * protocol to drive a server (handshake, key exchange) and nothing of the client-side logic, so a
 * test sees exactly what the server sent.
 *
 * @module
 */
import { decodeFrame, encryptFrame, KeyExchange, utf8, type Envelope, type Frame } from "./frames.ts";

/** Options for {@link WireClient.connect}. */
export interface ConnectOptions {
  /** Extra request headers (Bun's WebSocket `headers` option), e.g. `Cookie` or `Authorization`. */
  headers?: Record<string, string>;
  /** How long to wait for the socket to open. */
  timeoutMs?: number;
}

/** How a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** `Date.now()` when the close was seen. */
  at: number;
}

/** Options for {@link WireClient.handshake}. */
export interface HandshakeOptions {
  /** `protocol_version` sent in client_hello (default 2). */
  protocolVersion?: number;
  /** Features to announce (merged over the defaults). */
  features?: Record<string, unknown>;
  /** Ask for end-to-end encryption (sends a fresh P-256 public key). */
  encryption?: boolean;
  /** Override the public key sent (to test bad keys). */
  publicKeyOverride?: string;
  /** Timeout for each step. */
  timeoutMs?: number;
}

/** What a completed handshake produced. */
export interface HandshakeResult {
  ready: Envelope;
  hello: Envelope;
}

/** Default wait in the helpers, in ms. */
export const DEFAULT_WAIT_MS = 5000;

/** A frame predicate. */
export type FramePredicate = (frame: Frame) => boolean;

/** Matches frames whose envelope has type `t`. */
export function ofType(t: string): FramePredicate {
  return (f) => f.envelope?.t === t;
}

/** Matches publications of a topic (frames carrying the `tp` stamp). */
export function onTopic(topic: string): FramePredicate {
  return (f) => f.envelope?.tp === topic;
}

/** A raw WebSocket connection that records decoded frames. */
export class WireClient {
  /** Every frame received so far, in arrival order. */
  readonly frames: Frame[] = [];
  /** Set once the socket closed. */
  closeInfo: CloseInfo | null = null;
  /** The AES-GCM key once the key exchange completed. */
  key: CryptoKey | null = null;
  /** Why deriving the key from the server's public key failed, if it did. */
  keyError: string | null = null;

  private exchange: KeyExchange | null = null;
  private chain: Promise<void> = Promise.resolve();
  private waiters = new Set<() => void>();

  private constructor(
    /** The underlying socket. */
    readonly socket: WebSocket,
    /** The URL connected to. */
    readonly url: string,
  ) {
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (ev: MessageEvent) => {
      const data = ev.data as string | ArrayBuffer;
      this.chain = this.chain.then(async () => {
        const frame = await decodeFrame(data, this.key);
        this.frames.push(frame);
        try {
          await this.maybeDeriveKey(frame);
        } catch (err) {
          this.keyError = String(err); // a bad server key; later E: frames then fail to decode
        }
        this.notify();
      });
    });
    socket.addEventListener("close", (ev: CloseEvent) => {
      this.chain = this.chain.then(() => {
        this.closeInfo = { code: ev.code, reason: ev.reason, at: Date.now() };
        this.notify();
      });
    });
  }

  /** Opens a connection; resolves once open (auth failures still open, then close 4401). */
  static connect(url: string, options: ConnectOptions = {}): Promise<WireClient> {
    // Bun's WebSocket takes `{ headers }` as its second argument (an extension of the DOM API).
    const init = options.headers ? ({ headers: options.headers } as unknown as string[]) : undefined;
    const socket = new WebSocket(url, init);
    const client = new WireClient(socket, url);
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error(`connect to ${url} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.addEventListener("error", () => {
        clearTimeout(timer);
        if (socket.readyState !== WebSocket.OPEN) reject(new Error(`connect to ${url} failed`));
      });
      socket.addEventListener("close", (ev) => {
        clearTimeout(timer);
        reject(new Error(`connect to ${url} closed before open (code ${ev.code})`));
      });
    });
  }

  /** Frames with a decoded envelope, from index `since`. */
  envelopes(since = 0): Envelope[] {
    return this.frames.slice(since).flatMap((f) => (f.envelope ? [f.envelope] : []));
  }

  /** The number of frames received so far (a cursor for `since`). */
  mark(): number {
    return this.frames.length;
  }

  /** Sends a JSON envelope as a text frame. */
  send(envelope: unknown): void {
    this.socket.send(JSON.stringify(envelope));
  }

  /** Sends raw text or bytes. */
  sendRaw(data: string | Uint8Array): void {
    this.socket.send(data);
  }

  /** Sends an envelope (or raw plaintext bytes) as an `E:` frame with the negotiated key. */
  async sendEncrypted(envelope: unknown): Promise<void> {
    if (!this.key) throw new Error("no encryption key negotiated");
    const plain = envelope instanceof Uint8Array ? envelope : utf8(JSON.stringify(envelope));
    this.socket.send(await encryptFrame(this.key, plain));
  }

  /** Resolves with the first frame from index `since` matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: FramePredicate, timeoutMs = DEFAULT_WAIT_MS, since = 0, label = "frame"): Promise<Frame> {
    return new Promise((resolve, reject) => {
      let cursor = since;
      const check = (): boolean => {
        for (; cursor < this.frames.length; cursor++) {
          const f = this.frames[cursor]!;
          if (pred(f)) {
            done();
            resolve(f);
            return true;
          }
        }
        if (this.closeInfo) {
          done();
          reject(new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${label}; got ${this.describe(since)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}; got ${this.describe(since)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => void check();
      this.waiters.add(waiter);
      check();
    });
  }

  /** Waits for the first frame from `since` with envelope type `t` and returns its envelope. */
  async waitForType(t: string, timeoutMs = DEFAULT_WAIT_MS, since = 0): Promise<Envelope> {
    const frame = await this.waitFor(ofType(t), timeoutMs, since, `t="${t}"`);
    return frame.envelope!;
  }

  /** Waits until `count` frames from `since` match `pred`; returns them. */
  async waitForCount(pred: FramePredicate, count: number, timeoutMs = DEFAULT_WAIT_MS, since = 0): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.frames.slice(since).filter(pred);
      if (got.length >= count) return got;
      const left = deadline - Date.now();
      if (left <= 0 || this.closeInfo) {
        throw new Error(`wanted ${count} matching frames, got ${got.length}${this.closeInfo ? ` (closed ${this.closeInfo.code})` : ""}`);
      }
      await this.nextEvent(left);
    }
  }

  /** Resolves with the close info; rejects if the socket is still open after `timeoutMs`. */
  waitClose(timeoutMs = DEFAULT_WAIT_MS): Promise<CloseInfo> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.closeInfo) {
          done();
          resolve(this.closeInfo);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`socket still open after ${timeoutMs} ms; got ${this.describe(0)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Runs the §2 handshake: waits for server_ready, sends client_hello, waits for server_hello. */
  async handshake(options: HandshakeOptions = {}): Promise<HandshakeResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const ready = await this.waitForType("server_ready", timeoutMs);
    const p: Record<string, unknown> = {
      client_version: "wse-conformance/1",
      protocol_version: options.protocolVersion ?? 2,
      features: { compression: true, msgpack: false, batching: true, encryption: !!options.encryption, ...options.features },
    };
    if (options.encryption) {
      this.exchange = await KeyExchange.create();
      p.encryption_public_key = options.publicKeyOverride ?? this.exchange.publicKeyBase64;
    } else if (options.publicKeyOverride !== undefined) {
      p.encryption_public_key = options.publicKeyOverride;
    }
    const since = this.mark();
    this.send({ c: "WSE", t: "client_hello", v: 1, p });
    const hello = await this.waitForType("server_hello", timeoutMs, since);
    await this.chain;
    return { ready, hello };
  }

  /** Sends a subscribe request and waits for its reply envelope. */
  async subscribe(topics: string[], extra: Record<string, unknown> = {}, timeoutMs = DEFAULT_WAIT_MS): Promise<Envelope> {
    return this.subscriptionRequest({ action: "subscribe", topics, ...extra }, timeoutMs);
  }

  /** Sends an unsubscribe request and waits for its reply envelope. */
  async unsubscribe(topics: string[], timeoutMs = DEFAULT_WAIT_MS): Promise<Envelope> {
    return this.subscriptionRequest({ action: "unsubscribe", topics }, timeoutMs);
  }

  /**
   * Sends a subscription request and waits for *its* reply: the `subscription_update` with the
   * same action whose success and failed topics together are the requested ones (a server may
   * send other replies meanwhile, e.g. for the `?topics=` initial subscription).
   */
  private async subscriptionRequest(p: { action: string; topics: string[] } & Record<string, unknown>, timeoutMs: number): Promise<Envelope> {
    const since = this.mark();
    const envelope = { c: "WSE", t: "subscription_update", p };
    if (this.key) await this.sendEncrypted(envelope);
    else this.send(envelope);
    const wanted = [...new Set(p.topics)].sort().join("\u0000");
    const isReply = (f: Frame) => {
      const rp = f.envelope?.t === "subscription_update" ? (f.envelope.p as Record<string, unknown> | undefined) : undefined;
      if (!rp || rp.action !== p.action) return false;
      const got = [...((rp.success_topics as string[]) ?? []), ...((rp.failed_topics as string[]) ?? [])];
      return [...new Set(got)].sort().join("\u0000") === wanted;
    };
    const frame = await this.waitFor(isReply, timeoutMs, since, `subscription_update reply for ${p.action} ${p.topics.length} topic(s)`);
    return frame.envelope!;
  }

  /** Closes the socket (normal closure) and waits for the close to be seen. */
  async close(code = 1000): Promise<void> {
    if (this.closeInfo) return;
    try {
      this.socket.close(code);
    } catch {
      // already closing
    }
    await this.waitClose(3000).catch(() => undefined);
  }

  /** A short summary of what arrived since `since`, for error messages. */
  describe(since: number): string {
    const items = this.frames.slice(since).map((f) => {
      if (!f.envelope) return `<${f.kind} undecodable: ${f.error}>`;
      const code = (f.envelope.p as Record<string, unknown> | undefined)?.code;
      return `${f.kind}${f.inner ? `/${f.inner}` : ""}:${f.envelope.t}${code ? `(${code})` : ""}`;
    });
    const shown = items.length > 12 ? [...items.slice(0, 6), `…${items.length - 12} more…`, ...items.slice(-6)] : items;
    return `[${shown.join(", ")}]${this.closeInfo ? ` closed ${this.closeInfo.code}` : ""}`;
  }

  private async maybeDeriveKey(frame: Frame): Promise<void> {
    const env = frame.envelope;
    if (!this.exchange || this.key || env?.t !== "server_hello") return;
    const p = env.p ?? {};
    const features = (p.features ?? {}) as Record<string, unknown>;
    if (features.encryption === true && typeof p.encryption_public_key === "string") {
      this.key = await this.exchange.derive(p.encryption_public_key);
    }
  }

  private nextEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      const waiter = () => {
        this.waiters.delete(waiter);
        done();
      };
      this.waiters.add(waiter);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** How far (ms) the ISO-8601 time `iso` is from now; infinity when it is not a time string. */
export function isoSkewMs(iso: unknown): number {
  if (typeof iso !== "string") return Number.POSITIVE_INFINITY;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : Math.abs(Date.now() - t);
}
