/**
 * `WSEClient`: one WSE connection with handshake, end-to-end encryption, heartbeats, reconnects
 * with recovery, ordering/dedup, offline queue, pool failover and statistics.
 *
 * State machine: `disconnected` → `connecting` → `connected` (socket open, handshake running) →
 * `ready` (server_hello received) → on a drop `reconnecting` → `connected` → `ready` …;
 * `closed` is terminal (after `close()`, a final close code 4401/4403, or giving up).
 *
 * @module
 */
import type { Codec, TopicPosition } from "../wasm/api.ts";
import type { Envelope } from "../wasm/envelope.ts";
import { parseEnvelope } from "../wasm/envelope.ts";
import { createDedupWindow, createSequencer, defaultCodec } from "../wasm/mod.ts";
import { CircuitBreaker } from "./circuit-breaker.ts";
import {
  WSEAuthError,
  WSECircuitBreakerError,
  WSEConnectionError,
  WSEEncryptionError,
  WSEError,
  WSEProtocolError,
  WSERateLimitError,
  WSETimeoutError,
} from "./errors.ts";
import { clientEvent, EventQueue, eventFromEnvelope, MessagePriority, type WSEEvent } from "./events.ts";
import { type ConnectionQuality, NetworkMonitor } from "./network-monitor.ts";
import { IndexedDBQueueStorage, OfflineQueue, type QueueStorage } from "./offline-queue.ts";
import { checkTopic, type ResolvedOptions, resolveOptions, type WSEClientOptions } from "./options.ts";
import { ConnectionPool } from "./pool.ts";
import { TokenBucket } from "./rate-limiter.ts";
import { reconnectDelay } from "./reconnect.ts";
import { type RecoveryInfo, RecoveryTracker } from "./recovery.ts";
import { openSocket } from "./transport.ts";
import { frameSize, Wire } from "./wire.ts";

/** Connection states. */
export type ConnectionState = "disconnected" | "connecting" | "connected" | "ready" | "reconnecting" | "closed";

/** Options of `send`. */
export interface SendOptions {
  /** 10 critical, 8 high, 5 normal (default), 3 low, 1 background. */
  priority?: number;
  /** Correlation id (`cid`). */
  correlationId?: string;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** Ask the server to replay what was missed since the last seen position (default true). */
  recover?: boolean;
  /** Presence data: track this user in these topics. */
  presence?: Record<string, unknown>;
}

/** The server's answer to a subscribe or unsubscribe. */
export interface SubscriptionResult {
  success: boolean;
  successTopics: string[];
  failedTopics: string[];
  errors: Record<string, string>;
  recovered: boolean;
  recovery: Record<string, RecoveryInfo>;
}

/** Acknowledgement of a client publish. */
export interface PublishAck {
  topic: string;
  epoch: string;
  offset: number;
}

/** A topic's presence as reported by the server. */
export interface PresenceResult {
  topic: string;
  members: Record<string, { data?: Record<string, unknown>; connections?: number }>;
  numUsers: number;
  numConnections: number;
}

/** A message of `sendBatch`. */
export interface BatchMessage {
  type: string;
  payload?: Record<string, unknown>;
  priority?: number;
  correlationId?: string;
}

/** `getStats()`: the Python client's structure, camelCase. */
export interface ClientStats {
  state: ConnectionState;
  isReady: boolean;
  isFullyReady: boolean;
  connectionId: string | null;
  endpoint: string | null;
  subscribedTopics: string[];
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  reconnectCount: number;
  connectedSince: number | null;
  encryption: { enabled: boolean; decryptFailures: number };
  compression: { zstd: boolean; format: "json" | "msgpack" };
  sequencer: { currentSequence: number } & ReturnType<RecoveryTracker["getStats"]>;
  queueSize: number;
  eventsDropped: number;
  network: { quality: ConnectionQuality; latencyMs: number; jitterMs: number; packetLoss: number; stability: number };
  circuitBreaker: ReturnType<CircuitBreaker["getStats"]>;
  rateLimiter: ReturnType<TokenBucket["getStats"]>;
  offlineQueue: ReturnType<OfflineQueue["getStats"]>;
  connectionPool: ReturnType<ConnectionPool["getStats"]> | null;
  protocolErrors: number;
}

/** Events that drive the protocol and never reach `onAny` or the event stream. */
const INTERNAL_TYPES = new Set(["server_ready", "server_hello", "subscription_update", "ping", "PONG", "pong", "publish_ack", "presence"]);

type Handler = (event: WSEEvent) => void;

interface Session {
  socket: WebSocket;
  url: string;
  wire: Wire;
  phase: "handshake" | "ready" | "dead";
  connectionId?: string;
  features: Record<string, unknown>;
  lastReceived: number;
  lastError?: { code?: string; message?: string };
  handshakeResolve: () => void;
  handshakeReject: (error: Error) => void;
  timers: Array<ReturnType<typeof setInterval>>;
}

interface PendingSubscription {
  action: "subscribe" | "unsubscribe";
  topics: string[];
  recoverFrom: Record<string, TopicPosition>;
  resolve: (result: SubscriptionResult) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

// `await using` needs Symbol.asyncDispose; runtimes without it get the registered symbol that
// TypeScript's downlevel helpers also use.
if (typeof (Symbol as { asyncDispose?: symbol }).asyncDispose !== "symbol") {
  Object.defineProperty(Symbol, "asyncDispose", { value: Symbol.for("Symbol.asyncDispose") });
}

function uuid(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((x): x is string => typeof x === "string") : [];
}

/** The offline queue for `setting`; in browsers IndexedDB, one database per first endpoint. */
function makeQueue(setting: ResolvedOptions["offlineQueue"], endpoint: string): OfflineQueue | null {
  if (setting === false) return null;
  const details = setting === true ? {} : setting;
  let storage: QueueStorage | undefined;
  if (details.storage === "indexeddb" || (details.storage === undefined && IndexedDBQueueStorage.available())) {
    storage = new IndexedDBQueueStorage(`wse-offline-queue:${endpoint}`);
  } else if (details.storage !== undefined && details.storage !== "memory") {
    storage = details.storage;
  }
  return new OfflineQueue({ ...details, storage });
}

/**
 * A WSE client. Create it with `connect(url, options)` (connected) or `new WSEClient(url, options)`
 * and call `connect()` yourself.
 *
 * ```ts
 * await using client = await connect("ws://127.0.0.1:5007/wse", { token, topics: ["prices"] });
 * for await (const event of client) console.log(event.type, event.payload);
 * ```
 */
export class WSEClient implements AsyncIterable<WSEEvent> {
  readonly options: ResolvedOptions;
  readonly #codec: Codec;
  readonly #pool: ConnectionPool;
  readonly #breaker: CircuitBreaker;
  readonly #limiter: TokenBucket;
  readonly #monitor = new NetworkMonitor();
  readonly #tracker: RecoveryTracker;
  readonly #offline: OfflineQueue | null;
  readonly #queue: EventQueue;
  readonly #handlers = new Map<string, Set<Handler>>();
  readonly #anyHandlers = new Set<Handler>();
  readonly #stateListeners = new Set<(state: ConnectionState, previous: ConnectionState) => void>();
  readonly #errorListeners = new Set<(error: WSEError) => void>();
  /** Topics the application wants, with their presence data (or undefined). */
  readonly #topics = new Map<string, Record<string, unknown> | undefined>();
  readonly #pendingSubs: PendingSubscription[] = [];
  readonly #pendingPublish = new Map<string, Waiter<PublishAck>>();
  readonly #pendingPresence = new Map<string, Waiter<PresenceResult>[]>();
  readonly #pendingSnapshots: Waiter<Record<string, unknown>>[] = [];
  #state: ConnectionState = "disconnected";
  #session?: Session;
  #currentUrl: string;
  #closing = false;
  #finalError?: WSEError;
  #loop?: Promise<void>;
  #wake?: () => void;
  #skipDelay = false;
  #readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  #recoveryEnabled = false;
  #stats = { messagesReceived: 0, messagesSent: 0, bytesReceived: 0, bytesSent: 0, reconnectCount: 0, protocolErrors: 0 };
  #connectedSince: number | null = null;
  #everReady = false;
  /** Last server `seq` seen (diagnostic; ordering is per topic). */
  #lastSeq = 0;

  /** Creates a client without connecting. `url` may be omitted when `options.endpoints` is given. */
  constructor(url: string | undefined, options: WSEClientOptions = {}) {
    this.options = resolveOptions(url, options);
    this.#codec = options.codec ?? defaultCodec;
    this.#pool = new ConnectionPool(this.options.endpoints, { strategy: this.options.loadBalancing });
    this.#currentUrl = this.options.endpoints[0];
    this.#breaker = new CircuitBreaker(this.options.circuitBreaker);
    this.#limiter = new TokenBucket(this.options.rateLimit);
    this.#tracker = new RecoveryTracker(options.sequencer ?? createSequencer(), options.dedup ?? createDedupWindow(), this.options.requestTimeout);
    this.#offline = makeQueue(this.options.offlineQueue, this.options.endpoints[0]);
    this.#queue = new EventQueue(this.options.queueSize);
    for (const topic of this.options.topics) this.#topics.set(topic, this.options.presence);
  }

  // ---------------------------------------------------------------- properties

  /** Current state of the connection state machine. */
  get state(): ConnectionState {
    return this.#state;
  }
  /** The socket is open (handshake may still be running). */
  get isConnected(): boolean {
    return this.#state === "connected" || this.#state === "ready";
  }
  /** `server_ready` was received on the current connection. */
  get isReady(): boolean {
    return this.#session?.connectionId !== undefined && this.isConnected;
  }
  /** Handshake complete (server_ready, client_hello, server_hello): messages flow. */
  get isFullyReady(): boolean {
    return this.#state === "ready";
  }
  /** Network quality band from heartbeat round trips. */
  get connectionQuality(): ConnectionQuality {
    return this.#monitor.quality;
  }
  /** Topics the client is subscribed to (and resubscribes after reconnects). */
  get subscribedTopics(): Set<string> {
    return new Set(this.#topics.keys());
  }
  /** Events waiting in the receive queue. */
  get queueSize(): number {
    return this.#queue.size;
  }
  /** Whether the server announced recovery support. */
  get recoveryEnabled(): boolean {
    return this.#recoveryEnabled;
  }
  /** Last seen position per topic: `{ topic: { epoch, offset } }`. */
  get recoveryState(): Record<string, TopicPosition> {
    return this.#tracker.positions();
  }
  /** The URL of the current (or last) connection. */
  get url(): string {
    return this.#currentUrl;
  }
  /** Connection id given by the server, while connected. */
  get connectionId(): string | null {
    return this.#session?.connectionId ?? null;
  }
  /** Whether the current connection is end-to-end encrypted. */
  get encrypted(): boolean {
    return this.#session?.wire.encrypted ?? false;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Connects and completes the handshake (and the initial subscriptions). Rejects on the first
   * failure unless `retryInitialConnect`, then only on final errors (auth, encryption refused,
   * attempts exhausted).
   */
  connect(): Promise<void> {
    if (this.#state === "closed") return Promise.reject(this.#finalError ?? new WSEConnectionError("client is closed"));
    if (this.#state === "ready") return Promise.resolve();
    if (this.#loop) return this.#waitReady();
    this.#connecting ??= this.#connectOnce().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }
  #connecting?: Promise<void>;

  async #connectOnce(): Promise<void> {
    await this.#offline?.restore().catch(() => undefined);
    if (this.options.retryInitialConnect) {
      this.#loop = this.#runLoop(true);
      return this.#waitReady();
    }
    this.#setState("connecting");
    try {
      await this.#attempt(this.#pool.select());
    } catch (error) {
      if (!this.#isClosed()) this.#setState("disconnected");
      throw error;
    }
  }

  /** Closes the connection for good; `for await` loops end. Same as `close()`. */
  async disconnect(): Promise<void> {
    await this.close();
  }

  /** Closes the connection for good; `for await` loops end. */
  async close(code = 1000, reason = "client closing"): Promise<void> {
    if (this.#state === "closed") return;
    this.#closing = true;
    this.#wake?.();
    const session = this.#session;
    this.#finish(new WSEConnectionError("client closed"));
    if (session && session.socket.readyState <= 1) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        session.socket.addEventListener("close", () => {
          clearTimeout(timer);
          resolve();
        });
        try {
          session.socket.close(code, reason);
        } catch {
          resolve();
        }
      });
    }
  }

  /** `await using client = …` closes the client at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Drops the current connection and reconnects at once (with recovery). */
  forceReconnect(): void {
    if (this.#state === "closed") throw this.#finalError ?? new WSEConnectionError("client is closed");
    this.#skipDelay = true;
    this.#wake?.();
    const session = this.#session;
    if (session && session.phase === "ready") session.socket.close(4000, "client reconnect");
    else if (!this.#loop && !this.#connecting && this.#state === "disconnected") this.#loop = this.#runLoop(false);
    // Otherwise an attempt is already under way (or the loop was just woken).
  }

  /** Switches to another server URL (added to the endpoints) and reconnects there. */
  changeEndpoint(url: string): void {
    this.#pool.add(url);
    this.#preferredUrl = url;
    this.forceReconnect();
  }
  #preferredUrl?: string;

  // ---------------------------------------------------------------- events

  /** Calls `handler` for every event of `type`; returns a function that removes it. */
  on(type: string, handler: Handler): () => void {
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    let set = this.#handlers.get(type);
    if (!set) this.#handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => this.off(type, handler);
  }

  /** Calls `handler` for every application-visible event; returns a function that removes it. */
  onAny(handler: Handler): () => void {
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    this.#anyHandlers.add(handler);
    return () => this.#anyHandlers.delete(handler);
  }

  /** Removes a handler added with `on(type, …)` (or with `onAny` when `type` is `*`). */
  off(type: string, handler: Handler): void {
    if (type === "*") this.#anyHandlers.delete(handler);
    this.#handlers.get(type)?.delete(handler);
  }

  /** Calls `listener(state, previous)` on every state change; returns a remover. */
  onStateChange(listener: (state: ConnectionState, previous: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Calls `listener` with connection-level errors (failed attempts, decrypt failures, …); returns a remover. */
  onError(listener: (error: WSEError) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** The next event; with `timeout` (ms) rejects with `WSETimeoutError`. Rejects once closed and drained. */
  async recv(options: { timeout?: number } = {}): Promise<WSEEvent> {
    const event = await this.#queue.next(options.timeout);
    if (event === null) throw this.#finalError ?? new WSEConnectionError("client is closed");
    return event;
  }

  /** `for await (const event of client)`: every application-visible event until the client closes. */
  async *[Symbol.asyncIterator](): AsyncIterator<WSEEvent> {
    while (true) {
      const event = await this.#queue.next();
      if (event === null) return;
      yield event;
    }
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends a message. Returns true when it went out, false when it was queued offline (not
   * connected). Throws `WSERateLimitError` over the client token bucket, and
   * `WSEConnectionError` when offline with no offline queue.
   */
  send(type: string, payload: Record<string, unknown> = {}, options: SendOptions = {}): Promise<boolean> {
    try {
      return Promise.resolve(this.#sendApp(type, payload, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #sendApp(type: string, payload: Record<string, unknown>, options: SendOptions): boolean | Promise<boolean> {
    if (typeof type !== "string" || type.length === 0) throw new TypeError("message type must be a non-empty string");
    if (!isRecord(payload)) throw new TypeError("payload must be a plain object");
    const priority = options.priority ?? MessagePriority.NORMAL;
    if (!this.isFullyReady) {
      if (this.#state === "closed") throw this.#finalError ?? new WSEConnectionError("client is closed");
      if (!this.#offline) throw new WSEConnectionError("not connected and the offline queue is disabled");
      return this.#offline.enqueue({ type, payload, priority, correlationId: options.correlationId }).then(() => false);
    }
    if (!this.#limiter.tryAcquire()) {
      throw new WSERateLimitError("client rate limit exceeded", this.#limiter.retryAfter());
    }
    this.#sendEnvelope({ t: type, p: payload, pri: priority, cid: options.correlationId, id: uuid(), ts: new Date().toISOString() });
    return true;
  }

  /** `send` with retries (rate limit, not connected): backoff 100 ms · 2ⁿ up to 2 s. Resolves true once sent. */
  async sendWithRetry(type: string, payload: Record<string, unknown> = {}, options: SendOptions & { maxRetries?: number } = {}): Promise<boolean> {
    const maxRetries = options.maxRetries ?? 5;
    let lastError: unknown;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (this.isFullyReady) {
        try {
          if (await this.send(type, payload, options)) return true;
        } catch (error) {
          if (!(error instanceof WSERateLimitError)) throw error;
          lastError = error;
        }
      } else if (this.#state === "closed") {
        throw this.#finalError ?? new WSEConnectionError("client is closed");
      } else {
        lastError = new WSEConnectionError("not connected");
      }
      if (attempt < maxRetries) await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
    throw lastError instanceof WSEError ? lastError : new WSEConnectionError("send failed after retries", { cause: lastError });
  }

  /** Sends several messages in one `batch` frame (one rate-limit token each). */
  sendBatch(messages: BatchMessage[]): Promise<boolean> {
    if (!Array.isArray(messages) || messages.length === 0) return Promise.reject(new TypeError("sendBatch needs a non-empty array"));
    for (const m of messages) {
      if (!m || typeof m.type !== "string" || !m.type) return Promise.reject(new TypeError("every batch message needs a type"));
      if (m.payload !== undefined && !isRecord(m.payload)) return Promise.reject(new TypeError("batch payloads must be plain objects"));
    }
    const inner = messages.map((m) => {
      const out: Record<string, unknown> = { t: m.type, p: m.payload ?? {}, id: uuid(), v: 1, ts: new Date().toISOString() };
      if (m.priority !== undefined) out.pri = m.priority;
      if (m.correlationId !== undefined) out.cid = m.correlationId;
      return out;
    });
    if (this.isFullyReady && !this.#limiter.tryAcquire(messages.length)) {
      return Promise.reject(new WSERateLimitError("client rate limit exceeded", this.#limiter.retryAfter(messages.length)));
    }
    if (!this.isFullyReady) return this.send("batch", { messages: inner, count: inner.length });
    this.#sendEnvelope({ t: "batch", p: { messages: inner, count: inner.length }, id: uuid() });
    return Promise.resolve(true);
  }

  // ---------------------------------------------------------------- topics

  /**
   * Subscribes to topics (recovering from the last seen positions unless `recover: false`).
   * While disconnected the topics are remembered and subscribed on the next connection; the
   * promise then resolves with that reply.
   */
  subscribe(topics: string[] | string, options: SubscribeOptions = {}): Promise<SubscriptionResult> {
    let list: string[];
    try {
      list = (Array.isArray(topics) ? topics : [topics]).map(checkTopic);
    } catch (error) {
      return Promise.reject(error);
    }
    if (list.length === 0) return Promise.reject(new TypeError("subscribe needs at least one topic"));
    if (this.#state === "closed") return Promise.reject(this.#finalError ?? new WSEConnectionError("client is closed"));
    const presence = options.presence ?? this.options.presence;
    const now = () => {
      for (const t of list) this.#topics.set(t, presence);
      return this.#subscribeNow(list, options.recover ?? true, presence);
    };
    // While disconnected, wait: the topics are subscribed on the next connection.
    return this.isFullyReady ? now() : this.#waitReady().then(now);
  }

  /** Unsubscribes and forgets the topics' positions. */
  unsubscribe(topics: string[] | string): Promise<SubscriptionResult> {
    const list = Array.isArray(topics) ? topics : [topics];
    for (const t of list) {
      this.#topics.delete(t);
      this.#tracker.forget(t);
    }
    const empty: SubscriptionResult = { success: true, successTopics: list, failedTopics: [], errors: {}, recovered: false, recovery: {} };
    if (!this.isFullyReady) return Promise.resolve(empty);
    return this.#request("unsubscribe", list, {}, { action: "unsubscribe", topics: list });
  }

  /** Asks for snapshots of `topics` (default: every subscribed topic); resolves with `snapshot_complete`'s payload. */
  requestSnapshot(topics?: string[]): Promise<Record<string, unknown>> {
    const list = topics ?? [...this.#topics.keys()];
    if (!this.isFullyReady) return Promise.reject(new WSEConnectionError("not connected"));
    return new Promise((resolve, reject) => {
      const waiter: Waiter<Record<string, unknown>> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#pendingSnapshots.splice(this.#pendingSnapshots.indexOf(waiter), 1);
          reject(new WSETimeoutError("no snapshot_complete in time"));
        }, this.options.requestTimeout),
      };
      this.#pendingSnapshots.push(waiter);
      this.#sendEnvelope({ c: "S", t: "sync_request", p: { topics: list, include_snapshots: true, include_history: false }, id: uuid(), pri: 8 });
    });
  }

  /** Publishes to a topic through the server (when it allows client publish); resolves with the ack. */
  publish(topic: string, type: string, payload: Record<string, unknown> = {}): Promise<PublishAck> {
    try {
      checkTopic(topic);
      if (typeof type !== "string" || !type) throw new TypeError("publish needs a message type");
      if (!isRecord(payload)) throw new TypeError("payload must be a plain object");
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.isFullyReady) return Promise.reject(new WSEConnectionError("not connected"));
    if (!this.#limiter.tryAcquire()) return Promise.reject(new WSERateLimitError("client rate limit exceeded", this.#limiter.retryAfter()));
    const cid = uuid();
    return new Promise((resolve, reject) => {
      this.#pendingPublish.set(cid, {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#pendingPublish.delete(cid);
          reject(new WSETimeoutError(`no publish_ack for ${topic} in time`));
        }, this.options.requestTimeout),
      });
      this.#sendEnvelope({ t: "publish", p: { topic, type, payload }, cid, id: uuid() });
    });
  }

  /** Who is present in `topic`. */
  presence(topic: string): Promise<PresenceResult> {
    try {
      checkTopic(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.isFullyReady) return Promise.reject(new WSEConnectionError("not connected"));
    return new Promise((resolve, reject) => {
      const list = this.#pendingPresence.get(topic) ?? [];
      const waiter: Waiter<PresenceResult> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const l = this.#pendingPresence.get(topic);
          if (l) l.splice(l.indexOf(waiter), 1);
          reject(new WSETimeoutError(`no presence reply for ${topic} in time`));
        }, this.options.requestTimeout),
      };
      list.push(waiter);
      this.#pendingPresence.set(topic, list);
      this.#sendEnvelope({ t: "presence_request", p: { topic }, id: uuid() });
    });
  }

  /** Updates this user's presence data in every topic where it is present. */
  updatePresence(data: Record<string, unknown>): Promise<boolean> {
    if (!isRecord(data)) return Promise.reject(new TypeError("presence data must be a plain object"));
    for (const [topic, value] of this.#topics) if (value !== undefined) this.#topics.set(topic, data);
    return this.send("presence_update", { data });
  }

  // ---------------------------------------------------------------- stats

  /** Counters, network quality, breaker, limiter, queues and pool (the Python client's `get_stats`, camelCase). */
  getStats(): ClientStats {
    const net = this.#monitor.analyze();
    return {
      state: this.#state,
      isReady: this.isReady,
      isFullyReady: this.isFullyReady,
      connectionId: this.connectionId,
      endpoint: this.#session?.url ?? null,
      subscribedTopics: [...this.#topics.keys()],
      ...this.#stats,
      connectedSince: this.#connectedSince,
      encryption: { enabled: this.encrypted, decryptFailures: this.#session?.wire.decryptFailures ?? 0 },
      compression: { zstd: this.options.zstd, format: this.options.format },
      sequencer: { currentSequence: this.#lastSeq, ...this.#tracker.getStats() },
      queueSize: this.#queue.size,
      eventsDropped: this.#queue.dropped,
      network: { quality: net.quality, latencyMs: net.latencyMs, jitterMs: net.jitterMs, packetLoss: net.packetLoss, stability: net.stability },
      circuitBreaker: this.#breaker.getStats(),
      rateLimiter: this.#limiter.getStats(),
      offlineQueue: this.#offline?.getStats() ?? { size: 0, capacity: 0, enabled: false, maxAgeMs: 0, dropped: 0, storage: "none" },
      connectionPool: this.options.endpoints.length > 1 ? this.#pool.getStats() : null,
      protocolErrors: this.#stats.protocolErrors,
    };
  }

  // ================================================================ internals

  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    for (const listener of [...this.#stateListeners]) {
      try {
        listener(state, previous);
      } catch (error) {
        this.#reportError(new WSEError("state listener threw", { cause: error }));
      }
    }
  }

  #reportError(error: WSEError): void {
    for (const listener of [...this.#errorListeners]) {
      try {
        listener(error);
      } catch { /* a listener's own failure must not break the client */ }
    }
  }

  #waitReady(): Promise<void> {
    if (this.#state === "ready") return Promise.resolve();
    if (this.#state === "closed") return Promise.reject(this.#finalError ?? new WSEConnectionError("client is closed"));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Terminal: state `closed`, every waiter rejected, the event stream ends. */
  #finish(error: WSEError): void {
    if (this.#state === "closed") return;
    this.#finalError = this.#closing ? undefined : error;
    this.#stopSession(this.#session);
    this.#setState("closed");
    for (const w of this.#readyWaiters.splice(0)) w.reject(error);
    this.#rejectPending(error);
    this.#queue.close();
  }

  #rejectPending(error: Error): void {
    for (const p of this.#pendingSubs.splice(0)) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    for (const w of this.#pendingPublish.values()) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.#pendingPublish.clear();
    for (const list of this.#pendingPresence.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(error);
      }
    }
    this.#pendingPresence.clear();
    for (const w of this.#pendingSnapshots.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  #stopSession(session: Session | undefined): void {
    if (!session) return;
    for (const t of session.timers) clearInterval(t);
    session.timers = [];
    if (session.phase === "ready") this.#pool.release(session.url);
    session.phase = "dead";
  }

  /** Sleeps `ms`, cut short by `forceReconnect`/`close`. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Reconnect loop: backoff, breaker, pool failover; ends when ready or final. */
  async #runLoop(initial: boolean): Promise<void> {
    let attempt = 0;
    let failedUrl: string | undefined;
    try {
      while (!this.#closing && this.#state !== "closed") {
        if (!initial || attempt > 0) {
          this.#setState("reconnecting");
          const delay = this.#skipDelay ? 0 : reconnectDelay(attempt, this.options.reconnect, { quality: this.#monitor.quality });
          this.#skipDelay = false;
          if (delay > 0) await this.#sleep(delay);
          if (this.#closing) return;
        } else {
          this.#setState("connecting");
        }
        if (!this.#breaker.canExecute()) {
          const wait = this.#breaker.retryAfter();
          this.#reportError(new WSECircuitBreakerError(`circuit breaker open; next attempt in ${wait} ms`, wait));
          await this.#sleep(wait);
          continue;
        }
        const url = this.#preferredUrl ?? (failedUrl ? this.#pool.failover(failedUrl) : this.#pool.select());
        this.#preferredUrl = undefined;
        try {
          await this.#attempt(url);
          return;
        } catch (error) {
          const err = error instanceof WSEError ? error : new WSEConnectionError(String(error), { cause: error });
          if (this.#isClosed()) return;
          failedUrl = url;
          attempt++;
          this.#reportError(err);
          if (attempt >= this.options.reconnect.maxAttempts) {
            this.#finish(new WSEConnectionError(`gave up after ${attempt} failed attempts`, { cause: err }));
            return;
          }
        }
      }
    } finally {
      this.#loop = undefined;
    }
  }

  /** One connection attempt: open, handshake, resubscribe. Records breaker/pool outcomes. */
  async #attempt(url: string): Promise<void> {
    if (!this.#breaker.canExecute()) {
      const wait = this.#breaker.retryAfter();
      throw new WSECircuitBreakerError(`circuit breaker open; next attempt in ${wait} ms`, wait);
    }
    this.#currentUrl = url;
    let socket: WebSocket;
    const started = Date.now();
    try {
      socket = await openSocket(url, {
        token: this.options.token,
        headers: this.options.headers,
        query: this.options.format === "msgpack" ? { format: "msgpack" } : {},
        timeout: this.options.connectTimeout,
        tokenInQuery: this.options.tokenInQuery,
      });
    } catch (error) {
      this.#breaker.recordFailure();
      this.#pool.recordFailure(url);
      throw error;
    }
    if (this.#closing) {
      socket.close(1000);
      throw new WSEConnectionError("client closed");
    }
    let handshakeResolve!: () => void;
    let handshakeReject!: (e: Error) => void;
    const handshake = new Promise<void>((res, rej) => {
      handshakeResolve = res;
      handshakeReject = rej;
    });
    const session: Session = {
      socket,
      url,
      wire: new Wire(this.#codec),
      phase: "handshake",
      features: {},
      lastReceived: Date.now(),
      handshakeResolve,
      handshakeReject,
      timers: [],
    };
    this.#session = session;
    this.#setState("connected");
    socket.addEventListener("message", (ev) => this.#onFrame(session, (ev as MessageEvent).data));
    socket.addEventListener("close", (ev) => this.#onClose(session, (ev as CloseEvent).code, (ev as CloseEvent).reason));
    const timeout = setTimeout(
      () => handshakeReject(new WSETimeoutError(`no server_hello within ${this.options.handshakeTimeout} ms`)),
      this.options.handshakeTimeout,
    );
    try {
      await handshake;
    } catch (error) {
      clearTimeout(timeout);
      const final = error instanceof WSEAuthError || error instanceof WSEEncryptionError;
      if (!final) {
        this.#breaker.recordFailure();
        this.#pool.recordFailure(url);
      }
      session.phase = "dead";
      try {
        socket.close(final ? 1000 : 4000, "handshake failed");
      } catch { /* already closed */ }
      if (final) this.#finish(error as WSEError);
      throw error;
    }
    clearTimeout(timeout);
    // Ready.
    session.phase = "ready";
    this.#breaker.recordSuccess();
    this.#pool.recordSuccess(url, Date.now() - started);
    this.#pool.acquire(url);
    this.#connectedSince = Date.now();
    if (this.#everReady) this.#stats.reconnectCount++;
    this.#everReady = true;
    this.#startHeartbeat(session);
    this.#setState("ready");
    const subscribed = this.#resubscribe();
    for (const w of this.#readyWaiters.splice(0)) w.resolve();
    await subscribed;
    void this.#flushOffline();
  }

  #startHeartbeat(session: Session): void {
    const ping = () => {
      // The socket can be closing before its close event has run (phase still "ready"): skip the
      // ping then; the close handler reconnects. A timer callback must never throw.
      if (session.phase !== "ready" || session.socket.readyState !== 1) return;
      const now = Date.now();
      this.#monitor.recordPing(now);
      this.#sendEnvelope({ c: "WSE", t: "ping", p: { timestamp: now } }, session);
    };
    ping();
    session.timers.push(setInterval(ping, this.options.heartbeatInterval));
    const idleCheck = Math.max(50, Math.min(5000, this.options.idleTimeout / 4));
    session.timers.push(setInterval(() => {
      if (session.phase === "ready" && Date.now() - session.lastReceived > this.options.idleTimeout) {
        this.#reportError(new WSETimeoutError(`no frame from the server for ${this.options.idleTimeout} ms; reconnecting`));
        try {
          session.socket.close(4000, "idle");
        } catch { /* closing anyway */ }
        // Some runtimes deliver the close event late for a dead peer; do not wait for it.
        this.#onClose(session, 4000, "idle");
      }
    }, idleCheck));
  }

  /** Subscribes every wanted topic with recovery positions; resolves when the replies are in. */
  async #resubscribe(): Promise<void> {
    if (this.#topics.size === 0) return;
    const groups = new Map<Record<string, unknown> | undefined, string[]>();
    for (const [topic, presence] of this.#topics) {
      const g = groups.get(presence) ?? [];
      g.push(topic);
      groups.set(presence, g);
    }
    const replies = [...groups].map(([presence, topics]) =>
      this.#subscribeNow(topics, true, presence).catch((error) => {
        this.#reportError(error instanceof WSEError ? error : new WSEError(String(error)));
      })
    );
    await Promise.all(replies);
  }

  #subscribeNow(topics: string[], recover: boolean, presence?: Record<string, unknown>): Promise<SubscriptionResult> {
    const recoverFrom = recover && this.#recoveryEnabled ? this.#tracker.recoveryMap(topics) : {};
    const p: Record<string, unknown> = { action: "subscribe", topics };
    if (Object.keys(recoverFrom).length) {
      p.recover = true;
      p.recovery = recoverFrom;
    }
    if (presence) p.presence = presence;
    return this.#request("subscribe", topics, recoverFrom, p);
  }

  #request(action: "subscribe" | "unsubscribe", topics: string[], recoverFrom: Record<string, TopicPosition>, p: Record<string, unknown>): Promise<SubscriptionResult> {
    return new Promise((resolve, reject) => {
      const pending: PendingSubscription = {
        action,
        topics,
        recoverFrom,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#pendingSubs.indexOf(pending);
          if (i >= 0) this.#pendingSubs.splice(i, 1);
          for (const t of Object.keys(recoverFrom)) this.#tracker.endRecovery(t);
          reject(new WSETimeoutError(`no ${action} reply for ${topics.join(", ")} in time`));
        }, this.options.requestTimeout),
      };
      this.#pendingSubs.push(pending);
      try {
        this.#sendEnvelope({ c: "WSE", t: "subscription_update", p, id: uuid(), pri: 8 });
      } catch (error) {
        clearTimeout(pending.timer);
        this.#pendingSubs.splice(this.#pendingSubs.indexOf(pending), 1);
        reject(error);
      }
    });
  }

  async #flushOffline(): Promise<void> {
    if (!this.#offline || this.#offline.size === 0) return;
    const messages = await this.#offline.drain();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (!this.isFullyReady) {
        for (const rest of messages.slice(i)) await this.#offline.enqueue(rest);
        return;
      }
      this.#sendEnvelope({ t: m.type, p: m.payload, pri: m.priority, cid: m.correlationId, id: uuid(), ts: new Date().toISOString() });
    }
  }

  #sendEnvelope(env: Envelope, session: Session | undefined = this.#session, plaintext = false): void {
    if (!session || session.phase === "dead" || session.socket.readyState !== 1) throw new WSEConnectionError("not connected");
    const frame = session.wire.encode(env, { plaintext });
    // Frames are built in fresh ArrayBuffers, never shared memory.
    session.socket.send(frame as string | Uint8Array<ArrayBuffer>);
    this.#stats.messagesSent++;
    this.#stats.bytesSent += frameSize(frame);
  }

  #onClose(session: Session, code: number, reason: string): void {
    if (session.phase === "dead" && session !== this.#session) return;
    const wasReady = session.phase === "ready";
    if (session.phase === "handshake") {
      session.phase = "dead";
      session.handshakeReject(this.#closeError(session, code, reason));
      return;
    }
    if (session.phase === "dead") return;
    this.#stopSession(session);
    if (this.#closing || this.#state === "closed") return;
    if (!wasReady) return;
    this.#pool.recordFailure(session.url);
    const error = this.#closeError(session, code, reason);
    this.#rejectPending(new WSEConnectionError(`connection lost (close ${code})`, { closeCode: code }));
    if (error instanceof WSEAuthError) {
      this.#reportError(error);
      this.#finish(error);
      return;
    }
    if (!this.options.reconnect.enabled) {
      this.#finish(error);
      return;
    }
    this.#reportError(error);
    if (!this.#loop) this.#loop = this.#runLoop(false);
  }

  #closeError(session: Session, code: number, reason: string): WSEError {
    const detail = session.lastError?.message ?? reason ?? "";
    if (code === 4401 || code === 4403) {
      return new WSEAuthError(`server refused the connection (${code}${detail ? `: ${detail}` : ""})`, {
        code: session.lastError?.code ?? (code === 4401 ? "AUTH_FAILED" : "FORBIDDEN"),
        closeCode: code,
      });
    }
    if (code === 4429) return new WSERateLimitError(`server closed for rate abuse (4429)`, 0, { closeCode: code });
    return new WSEConnectionError(`connection closed (${code}${detail ? `: ${detail}` : ""})`, { closeCode: code });
  }

  #onFrame(session: Session, data: unknown): void {
    if (session.phase === "dead") return;
    session.lastReceived = Date.now();
    const frame = typeof data === "string" ? data : data instanceof ArrayBuffer ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
    if (frame === null) return;
    this.#stats.messagesReceived++;
    this.#stats.bytesReceived += frameSize(frame);
    let env: Envelope;
    try {
      env = session.wire.decode(frame);
    } catch (error) {
      this.#stats.protocolErrors++;
      this.#reportError(error as WSEError);
      return;
    }
    if (env.t === "batch" && Array.isArray(env.p.messages)) {
      for (const inner of env.p.messages) {
        try {
          this.#handleEnvelope(session, parseEnvelope({ encrypted: false, compression: "none", format: "json", text: JSON.stringify(inner) }));
        } catch (error) {
          this.#stats.protocolErrors++;
          this.#reportError(new WSEProtocolError(`bad message in batch: ${(error as Error).message}`));
        }
      }
      return;
    }
    this.#handleEnvelope(session, env);
  }

  #handleEnvelope(session: Session, env: Envelope): void {
    const p = env.p;
    if (env.seq !== undefined) this.#lastSeq = env.seq;
    switch (env.t) {
      case "server_ready":
        return this.#onServerReady(session, env);
      case "server_hello":
        return this.#onServerHello(session, env);
      case "ping":
        if (session.phase === "ready" && session.socket.readyState === 1) {
          this.#sendEnvelope({ c: "WSE", t: "PONG", p: { server_timestamp: p.server_time ?? p.timestamp ?? null, client_timestamp: Date.now() } }, session);
        }
        return this.#dispatch(eventFromEnvelope(env));
      case "PONG":
      case "pong": {
        const sent = Number(p.client_timestamp ?? p.timestamp);
        if (Number.isFinite(sent)) {
          const latency = this.#monitor.recordPong(sent);
          this.#pool.recordLatency(session.url, latency);
          this.#breaker.recordSuccess();
        }
        return this.#dispatch(eventFromEnvelope(env));
      }
      case "subscription_update":
      case "subscription":
        this.#onSubscriptionReply(env);
        return this.#dispatch(eventFromEnvelope(env));
      case "publish_ack":
        this.#onPublishAck(env);
        return this.#dispatch(eventFromEnvelope(env));
      case "presence":
        this.#onPresence(env);
        return this.#dispatch(eventFromEnvelope(env));
      case "snapshot_complete":
        for (const w of this.#pendingSnapshots.splice(0, 1)) {
          clearTimeout(w.timer);
          w.resolve(p);
        }
        return this.#dispatch(eventFromEnvelope(env));
      case "error":
        return this.#onServerError(session, env);
    }
    this.#onPublication(env);
  }

  #onServerReady(session: Session, env: Envelope): void {
    const details = isRecord(env.p.details) ? env.p.details : {};
    const id = details.connection_id ?? env.p.connection_id;
    session.connectionId = typeof id === "string" ? id : String(id ?? "");
    const features = isRecord(details.features) ? details.features : {};
    session.features = features;
    this.#recoveryEnabled = features.recovery === true;
    const hello: Record<string, unknown> = {
      client_version: this.options.clientVersion,
      protocol_version: 1,
      connection_id: session.connectionId,
      features: {
        compression: true,
        encryption: this.options.encryption,
        msgpack: this.options.format === "msgpack",
        batching: true,
        priority_queue: true,
        circuit_breaker: true,
        offline_queue: this.#offline !== null,
        rate_limiting: true,
        recovery: true,
        presence: true,
        zstd: this.options.zstd,
      },
    };
    try {
      if (this.options.encryption) hello.encryption_public_key = session.wire.startKeyExchange();
      this.#sendEnvelope({ c: "WSE", t: "client_hello", p: hello, id: uuid(), ts: new Date().toISOString(), pri: 10 }, session, true);
    } catch (error) {
      session.handshakeReject(error instanceof WSEError ? error : new WSEConnectionError(String(error)));
    }
  }

  #onServerHello(session: Session, env: Envelope): void {
    if (session.phase !== "handshake") return; // a repeated hello keeps the key
    const features = isRecord(env.p.features) ? env.p.features : {};
    session.features = { ...session.features, ...features };
    if (typeof features.recovery === "boolean") this.#recoveryEnabled = features.recovery;
    if (this.options.encryption) {
      const key = env.p.encryption_public_key;
      if (features.encryption !== true || typeof key !== "string") {
        session.handshakeReject(new WSEEncryptionError(
          `encryption was required but the server did not enable it${session.lastError?.message ? `: ${session.lastError.message}` : ""}`,
          { code: session.lastError?.code ?? "ENCRYPTION_REFUSED" },
        ));
        return;
      }
      try {
        session.wire.completeKeyExchange(key);
      } catch (error) {
        session.handshakeReject(error as WSEError);
        return;
      }
    }
    session.handshakeResolve();
  }

  #onServerError(session: Session, env: Envelope): void {
    const code = typeof env.p.code === "string" ? env.p.code : undefined;
    const message = typeof env.p.message === "string" ? env.p.message : undefined;
    session.lastError = { code, message };
    if (env.cid && this.#pendingPublish.has(env.cid)) {
      const w = this.#pendingPublish.get(env.cid)!;
      this.#pendingPublish.delete(env.cid);
      clearTimeout(w.timer);
      w.reject(code === "RATE_LIMITED"
        ? new WSERateLimitError(message ?? "rate limited", Number(env.p.retry_after ?? 0) * 1000, { code })
        : new WSEProtocolError(message ?? "publish refused", { code }));
    }
    this.#dispatch(eventFromEnvelope(env));
  }

  #onSubscriptionReply(env: Envelope): void {
    const p = env.p;
    const action = p.action === "unsubscribe" ? "unsubscribe" : "subscribe";
    const successTopics = stringList(p.success_topics);
    const failedTopics = stringList(p.failed_topics);
    const covered = new Set([...successTopics, ...failedTopics]);
    let index = this.#pendingSubs.findIndex((x) => x.action === action && x.topics.every((t) => covered.has(t)));
    if (index < 0) index = this.#pendingSubs.findIndex((x) => x.action === action);
    const pending = index >= 0 ? this.#pendingSubs.splice(index, 1)[0] : undefined;
    if (pending) clearTimeout(pending.timer);
    const recovery: Record<string, RecoveryInfo> = isRecord(p.recovery) ? (p.recovery as Record<string, RecoveryInfo>) : {};
    if (action === "subscribe") {
      const topics = new Set([...Object.keys(recovery), ...Object.keys(pending?.recoverFrom ?? {})]);
      for (const topic of topics) {
        if (!this.#topics.has(topic)) continue;
        const outcome = this.#tracker.applyReply(topic, recovery[topic], pending?.recoverFrom[topic]);
        if (outcome.kind === "recovered") {
          this.#dispatch(clientEvent("recovery", { topic, recovered: true, count: outcome.count }, topic));
        } else if (outcome.kind === "discontinuity") {
          this.#dispatch(clientEvent("discontinuity", outcome.payload, topic));
        }
      }
      for (const topic of failedTopics) {
        this.#topics.delete(topic);
        this.#tracker.forget(topic);
      }
    }
    const errors: Record<string, string> = {};
    if (isRecord(p.errors)) for (const [k, v] of Object.entries(p.errors)) errors[k] = String(v);
    pending?.resolve({
      success: p.success === true || (p.success === undefined && failedTopics.length === 0),
      successTopics,
      failedTopics,
      errors,
      recovered: p.recovered === true,
      recovery,
    });
  }

  #onPublishAck(env: Envelope): void {
    const cid = env.cid ?? (typeof env.p.cid === "string" ? env.p.cid : undefined);
    if (!cid) return;
    const w = this.#pendingPublish.get(cid);
    if (!w) return;
    this.#pendingPublish.delete(cid);
    clearTimeout(w.timer);
    w.resolve({ topic: String(env.p.topic ?? ""), epoch: String(env.p.epoch ?? ""), offset: Number(env.p.offset ?? -1) });
  }

  #onPresence(env: Envelope): void {
    const topic = typeof env.p.topic === "string" ? env.p.topic : "";
    const list = this.#pendingPresence.get(topic);
    const w = list?.shift();
    if (!w) return;
    if (list!.length === 0) this.#pendingPresence.delete(topic);
    clearTimeout(w.timer);
    w.resolve({
      topic,
      members: isRecord(env.p.members) ? (env.p.members as PresenceResult["members"]) : {},
      numUsers: Number(env.p.num_users ?? 0),
      numConnections: Number(env.p.num_connections ?? 0),
    });
  }

  /** A publication or any other event: ordering/dedup, gap recovery, then delivery. */
  #onPublication(env: Envelope): void {
    const event = eventFromEnvelope(env);
    const verdict = this.#tracker.classify(event);
    if (verdict === "duplicate") return;
    if (verdict === "gap") return this.#onGap(event);
    if (verdict === "rebaseline") {
      const previous = this.#tracker.lastRebaselineFrom;
      const recovering = this.#tracker.recovering(event.topic!);
      if (!recovering || previous?.epoch !== event.epoch) {
        this.#dispatch(clientEvent("discontinuity", {
          topic: event.topic!,
          reason: "epoch_changed",
          previous: previous ? { epoch: previous.epoch, offset: previous.offset } : null,
          current: { epoch: event.epoch!, offset: event.offset! - 1 },
        }, event.topic));
      }
    }
    this.#dispatch(event);
  }

  #onGap(event: WSEEvent): void {
    const topic = event.topic!;
    const from = this.#tracker.position(topic);
    if (!this.#recoveryEnabled || !from) {
      // Cannot ask for the missing range: accept the jump and say so.
      this.#tracker.applyReply(topic, { epoch: event.epoch, offset: event.offset! - 1, recovered: false }, undefined);
      this.#tracker.classify({ topic, epoch: event.epoch, offset: event.offset });
      this.#dispatch(clientEvent("discontinuity", {
        topic,
        reason: "gap",
        previous: from ? { epoch: from.epoch, offset: from.offset } : null,
        current: { epoch: event.epoch!, offset: event.offset! - 1 },
      }, topic));
      this.#dispatch(event);
      return;
    }
    if (!this.#tracker.beginRecovery(topic)) return;
    const recoverFrom = { [topic]: { epoch: from.epoch, offset: from.offset } };
    this.#request("subscribe", [topic], recoverFrom, { action: "subscribe", topics: [topic], recover: true, recovery: recoverFrom })
      .catch((error) => {
        this.#tracker.endRecovery(topic);
        this.#reportError(error instanceof WSEError ? error : new WSEError(String(error)));
      });
  }

  #dispatch(event: WSEEvent): void {
    const handlers = this.#handlers.get(event.type);
    if (handlers) for (const h of [...handlers]) this.#call(h, event);
    if (INTERNAL_TYPES.has(event.type)) return;
    for (const h of [...this.#anyHandlers]) this.#call(h, event);
    this.#queue.push(event);
  }

  #call(handler: Handler, event: WSEEvent): void {
    try {
      handler(event);
    } catch (error) {
      this.#reportError(new WSEError(`handler for ${event.type} threw: ${(error as Error)?.message ?? error}`, { cause: error }));
    }
  }
}

/**
 * Creates a client and connects it (handshake and initial subscriptions done).
 * If the first connection fails the client is closed and the error is thrown.
 *
 * ```ts
 * await using client = await connect("ws://127.0.0.1:5007/wse", { token, topics: ["news"] });
 * ```
 */
export async function connect(url: string | undefined, options: WSEClientOptions = {}): Promise<WSEClient> {
  const client = new WSEClient(url, options);
  try {
    await client.connect();
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
