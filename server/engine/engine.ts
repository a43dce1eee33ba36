/**
 * The runtime-free WSE engine: owns the broker, the topic hub, the sessions, the timers (server
 * ping, idle and slow-consumer sweep), metrics and the embedding API. A host (Bun, Deno) feeds
 * it upgrades, frames and closes through `prepare`, `open`, `message` and `socketClosed`, and
 * provides the channel fan-out.
 *
 * @module
 */
import type { Codec } from "../../wasm/api.ts";
import { defaultCodec } from "../../wasm/default-codec.ts";
import { depthOf } from "../../wasm/envelope.ts";
import { MemoryBroker } from "../broker/memory.ts";
import type { Broker, BrokerEvent, PresenceMember, Publication, PublicationData, PublishOptions, StreamTop } from "../broker/types.ts";
import { createLogger } from "../log.ts";
import type { ResolvedOptions } from "../options.ts";
import type {
  DisconnectOptions,
  DrainCallOptions,
  HistoryAnswer,
  HistoryQuery,
  Logger,
  PresenceSummary,
  ServerMetrics,
  ServerPublishOptions,
  ServerStats,
} from "../types.ts";
import { type Authenticator, createAuthenticator, isAuthConfigured } from "./auth.ts";
import { CloseCode } from "./codes.ts";
import type { HostFanOut, HostSocket, UpgradeData } from "./host.ts";
import { broadcastChannel, Hub } from "./hub.ts";
import { type EncodeContext, isoNow, messageEnvelope, Outbound, OutboundCache, VARIANTS } from "./outbound.ts";
import { Session } from "./session.ts";
import { SessionTable } from "./session-table.ts";
import { extractToken } from "./token.ts";
import { topicProblem } from "./topics.ts";
import { WriteBatcher } from "./write-batch.ts";

/** Room an envelope needs around its payload: stamp, category, id, timestamp, version, keys. */
const ENVELOPE_OVERHEAD_BYTES = 512;

const utf8Encoder = new TextEncoder();
function utf8ByteLength(text: string): number {
  return utf8Encoder.encode(text).length;
}

const NO_TOPICS: string[] = [];
const NO_PUBLISH_OPTIONS = Object.freeze({}) as Record<string, never>;
const NO_CLAIMS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** Most topics listed in `metrics().topics`. */
export const METRICS_TOPIC_LIMIT = 100;

/** Mutable counters behind `metrics()`: its counter fields (documented on `ServerMetrics`). */
export type Counters = Omit<ServerMetrics, "connections" | "topics" | "topicCount" | "brokerHealthy" | "draining" | "uptimeSeconds">;

/** Injectable pieces (tests, other hosts). */
export interface EngineDeps {
  /** Verifies tokens; default `createAuthenticator(options.jwt)`. */
  authenticate?: Authenticator;
}

/** A close code an endpoint may send (RFC 6455 §7.4): 1000–1003, 1007–1014, 3000–4999; else undefined. */
export function sendableCloseCode(code: number | undefined): number | undefined {
  if (code === undefined || !Number.isInteger(code)) return undefined;
  if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)) return code;
  return undefined;
}

/**
 * False when the JSON text `json` cannot nest deeper than `limit`: each level takes an opening
 * and a closing bracket, and more than `limit` levels need more than `limit` opening brackets.
 */
function openingBracketsOver(json: string, limit: number): boolean {
  if (json.length <= 2 * limit) return false;
  let count = 0;
  for (let at = json.indexOf("{"); at !== -1; at = json.indexOf("{", at + 1)) if (++count > limit) return true;
  for (let at = json.indexOf("["); at !== -1; at = json.indexOf("[", at + 1)) if (++count > limit) return true;
  return false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The engine. One per server. */
export class Engine {
  /** Resolved options. */
  readonly options: ResolvedOptions;
  /** Fan-out, history, presence. */
  readonly broker: Broker;
  /** Compression and crypto backend. */
  readonly codec: Codec;
  /** Topic index. */
  readonly hub = new Hub();
  /** Structured logger. */
  readonly logger: Logger;
  /** Shared encode settings. */
  readonly encodeContext: EncodeContext;
  /** Encoded replayed publications, shared by the connections recovering the same range. */
  readonly outbound: OutboundCache;
  /** Counters. */
  readonly counters: Counters = {
    connectionsTotal: 0,
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    publications: 0,
    authFailures: 0,
    rateLimited: 0,
    rateLimitCloses: 0,
    slowConsumerCloses: 0,
    recoveryHits: 0,
    recoveryMisses: 0,
    invalidMessages: 0,
    decryptionFailures: 0,
  };
  /** Live sessions by connection id (the id names the session's slot: no hash entry per connection). */
  readonly sessions = new SessionTable<Session>();
  /** Sessions with a session key (reached individually for broadcasts). */
  readonly encryptedSessions = new Set<Session>();
  /** True when the broker spans several nodes. */
  readonly clustered: boolean;
  /** Frames for individually reached (encrypted) connections, written once per connection per turn. */
  readonly writeBatch: WriteBatcher;

  /** A user's sessions: the session itself while it is the only one (the common case), else a set. */
  readonly #byUser = new Map<string, Session | Set<Session>>();
  /** The publication being handed to the memory broker and its serialized payload (see `publish`). */
  #inFlightData: PublicationData | null = null;
  #inFlightJson = "";
  readonly #authenticate: Authenticator;
  readonly #authConfigured: boolean;
  readonly #ownsBroker: boolean;
  readonly #startedAt = Date.now();
  #fanOut: HostFanOut | null = null;
  #openSockets = 0;
  #draining: Promise<void> | null = null;
  #stopped = false;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  readonly #terminateTimers = new Set<ReturnType<typeof setTimeout>>();

  /** Creates the engine; starts its timers. */
  constructor(options: ResolvedOptions, deps: EngineDeps = {}) {
    this.options = options;
    this.logger = options.logger ?? createLogger();
    this.codec = options.codec ?? defaultCodec;
    this.encodeContext = { codec: this.codec, compressionThreshold: options.compressionThreshold };
    this.outbound = new OutboundCache(this.encodeContext);
    this.writeBatch = new WriteBatcher((error) => this.logger.error("batched write failed", { error: String(error) }));
    this.#ownsBroker = !options.broker;
    this.broker =
      options.broker ??
      new MemoryBroker({
        historySize: options.recovery ? options.history.size : 0,
        historyTtlMs: options.history.ttlMs,
        memoryBudget: options.history.memoryBudget,
        payloadSize: (data) => (data === this.#inFlightData ? this.#inFlightJson.length : undefined),
      });
    this.clustered = !(this.broker instanceof MemoryBroker);
    this.#authenticate = deps.authenticate ?? createAuthenticator(options.jwt);
    this.#authConfigured = deps.authenticate !== undefined || isAuthConfigured(options.jwt);
    this.broker.setHandler((event) => this.#onBrokerEvent(event));
    this.#pingTimer = setInterval(() => this.#ping(), options.pingIntervalMs);
    const sweepMs = Math.max(20, Math.min(250, Math.floor(options.idleTimeoutMs / 4)));
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepMs);
    for (const t of [this.#pingTimer, this.#sweepTimer]) (t as { unref?: () => void }).unref?.();
  }

  /** Installs the host's channel fan-out. */
  setFanOut(fanOut: HostFanOut): void {
    this.#fanOut = fanOut;
    this.hub.setFanOut(fanOut);
  }

  /** True once `drain()` began. */
  get draining(): boolean {
    return this.#draining !== null;
  }

  /** False while the broker is unreachable or the server drains/stopped. */
  get healthy(): boolean {
    return this.broker.healthy && !this.draining && !this.#stopped;
  }

  /** Sockets the host reported open and not yet closed (includes refused ones until closed). */
  get openSockets(): number {
    return this.#openSockets;
  }

  // -------------------------------------------------------------------------------------------
  // Host interface
  // -------------------------------------------------------------------------------------------

  /**
   * Runs the upgrade checks: draining and connection limit (→ an HTTP 503 `Response`), origin,
   * token and authentication (→ `UpgradeData` with a `refusal` to send after the upgrade).
   */
  async prepare(request: Request, remoteAddress?: string): Promise<UpgradeData | Response> {
    const o = this.options;
    if (this.draining || this.#stopped) return new Response("server is draining", { status: 503, headers: { "retry-after": "1" } });
    if (this.#openSockets >= o.maxConnections) {
      return new Response("too many connections", { status: 503, headers: { "retry-after": "5" } });
    }
    let query: URLSearchParams | null = null;
    const q = request.url.indexOf("?");
    if (q >= 0) {
      try {
        query = new URL(request.url).searchParams;
      } catch {
        return new Response("bad request", { status: 400 });
      }
    }
    // Reserves the session's slot: `open` fills it or gives it back.
    const connectionId = this.sessions.reserveId();
    const msgpack = query?.get("format") === "msgpack";
    const topicsParam = query?.get("topics");
    const initialTopics = topicsParam ? topicsParam.split(",").map((t) => t.trim()).filter((t) => t.length > 0).slice(0, o.maxTopicsPerConnection) : NO_TOPICS;
    const base = { connectionId, msgpack, initialTopics, remoteAddress };
    const origin = request.headers.get("origin");
    if (o.origins && origin !== null && !o.origins.includes("*") && !o.origins.includes(origin)) {
      return { ...base, identity: null, refusal: { code: "ORIGIN_NOT_ALLOWED", message: `origin ${origin} is not allowed`, closeCode: CloseCode.FORBIDDEN } };
    }
    try {
      const hook = o.hooks.authenticate;
      // Development mode (no JWT, no hook) never reads a token.
      const token = hook || this.#authConfigured ? extractToken(request, { cookieName: o.cookieName, allowQuery: o.allowQueryToken }) : null;
      const result = hook ? await hook(request, token) : await this.#authenticate(token);
      if (hook && !result) throw Object.assign(new Error("authentication refused"), { code: "AUTH_FAILED" });
      // The JWT authenticator answers null only in development mode (no key configured).
      const identity = result ?? { userId: connectionId, claims: NO_CLAIMS, acl: null };
      if (typeof identity.userId !== "string" || identity.userId.length === 0) throw Object.assign(new Error("no user id"), { code: "AUTH_FAILED" });
      return { ...base, identity: { userId: identity.userId, claims: identity.claims ?? NO_CLAIMS, acl: identity.acl ?? null } };
    } catch (error) {
      this.counters.authFailures++;
      const raw = (error as { code?: unknown }).code;
      const code = raw === "AUTH_REQUIRED" || raw === "AUTH_FAILED" ? raw : "AUTH_FAILED";
      const message = error instanceof Error && raw ? error.message : "authentication failed";
      this.logger.info("auth failed", { code, reason: message, remote: remoteAddress });
      return { ...base, identity: null, refusal: { code, message, closeCode: CloseCode.AUTH } };
    }
  }

  /**
   * The host could not upgrade a request `prepare` accepted (no socket will open for it): gives
   * back the session slot reserved for its connection id. Optional: an id never given back only
   * keeps its slot (8 bytes).
   */
  discard(data: UpgradeData): void {
    if (!data.session) this.sessions.release(data.connectionId);
  }

  /** The socket opened: greets it, or sends the refusal and closes. Returns the session, if any. */
  open(socket: HostSocket, data: UpgradeData): Session | null {
    this.#openSockets++;
    if (!data.identity || data.refusal || this.draining || this.#stopped) this.sessions.release(data.connectionId);
    if (!data.identity || data.refusal) {
      const refusal = data.refusal ?? { code: "AUTH_FAILED", message: "authentication failed", closeCode: CloseCode.AUTH };
      const p = { code: refusal.code, message: refusal.message, recoverable: false, timestamp: new Date().toISOString() };
      socket.send(JSON.stringify({ c: "WSE", t: "error", v: 1, p }));
      socket.close(refusal.closeCode, refusal.message.slice(0, 120));
      return null;
    }
    if (this.draining || this.#stopped) {
      // Authenticated while the drain began: send it on its way like everyone else.
      socket.close(this.options.drain.closeCode, "server restart");
      return null;
    }
    if (this.sessions.get(data.connectionId)) {
      // Ids from `prepare` are unique; an embedder's own `UpgradeData` may not be.
      this.logger.error("duplicate connection id refused", { connection_id: data.connectionId });
      socket.close(1011, "duplicate connection id");
      return null;
    }
    const session = new Session(this, socket, data);
    this.sessions.add(session);
    data.session = session;
    const mine = this.#byUser.get(session.userId);
    if (!mine) this.#byUser.set(session.userId, session);
    else if (mine instanceof Set) mine.add(session);
    else this.#byUser.set(session.userId, new Set([mine, session]));
    data.identity = null; // the session holds what it needs
    this.counters.connectionsTotal++;
    session.start(data.initialTopics);
    this.logger.debug("connected", { connection_id: session.connectionId, user_id: session.userId, remote: data.remoteAddress });
    const hook = this.options.hooks.onConnect;
    if (hook) this.#runHook("onConnect", () => hook(session));
    return session;
  }

  /** An inbound frame: for the session `open` returned, or the upgrade data it was opened with. */
  message(target: UpgradeData | Session, frame: string | Uint8Array): void {
    const session = target instanceof Session ? target : (target.session as Session | undefined);
    if (session) session.receive(frame);
  }

  /** The host saw the socket close (called once per socket, with the session or the upgrade data). */
  socketClosed(target: UpgradeData | Session, code: number, reason: string): void {
    this.#openSockets = Math.max(0, this.#openSockets - 1);
    let session: Session | undefined;
    if (target instanceof Session) {
      session = target;
    } else {
      session = target.session as Session | undefined;
      target.session = undefined;
    }
    if (!session) return;
    if (!session.closed) {
      session.closed = true;
      this.sessionClosed(session, code, reason);
    }
  }

  /** Called once when a session closes (by either side): releases topics and presence, runs the hook. */
  sessionClosed(session: Session, code: number, reason: string): void {
    if (!this.sessions.delete(session)) return;
    const mine = this.#byUser.get(session.userId);
    if (mine === session) {
      this.#byUser.delete(session.userId);
    } else if (mine instanceof Set) {
      mine.delete(session);
      if (mine.size === 1) this.#byUser.set(session.userId, mine.values().next().value!);
    }
    this.logger.debug("disconnected", { connection_id: session.connectionId, code, reason });
    const hook = this.options.hooks.onDisconnect;
    void session
      .release()
      .catch((error) => this.logger.warn("release failed", { connection_id: session.connectionId, error: String(error) }))
      .then(() => {
        if (hook) this.#runHook("onDisconnect", () => hook(session, code, reason));
      });
  }

  /** Closes a session whose outbound buffer passed the backpressure limit (4008). */
  checkBackpressure(session: Session): void {
    const o = this.options;
    if (!o.closeOnBackpressureLimit || session.closed) return;
    if (session.socket.getBufferedAmount() <= o.backpressureLimit) return;
    this.counters.slowConsumerCloses++;
    this.logger.info("slow consumer closed", { connection_id: session.connectionId, buffered: session.socket.getBufferedAmount() });
    const socket = session.socket;
    session.close(CloseCode.SLOW_CONSUMER, "slow consumer");
    // A consumer that stopped reading never completes the close handshake: cut it after a while.
    const timer = setTimeout(() => {
      this.#terminateTimers.delete(timer);
      try {
        socket.terminate();
      } catch {
        // already gone
      }
    }, 5000);
    (timer as { unref?: () => void }).unref?.();
    this.#terminateTimers.add(timer);
  }

  #runHook(name: string, fn: () => unknown): void {
    try {
      const result = fn();
      if (result && typeof (result as Promise<unknown>).catch === "function") {
        (result as Promise<unknown>).catch((error) => this.logger.warn(`${name} hook failed`, { error: String(error) }));
      }
    } catch (error) {
      this.logger.warn(`${name} hook failed`, { error: String(error) });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Broker events and timers
  // -------------------------------------------------------------------------------------------

  #onBrokerEvent(event: BrokerEvent): void {
    try {
      switch (event.kind) {
        case "publication": {
          const { publication } = event;
          if (!this.hub.has(publication.topic)) return;
          // Live fan-out encodes afresh (no cache bookkeeping on the hot path).
          const out = Outbound.publication(this.encodeContext, publication, publication.data === this.#inFlightData ? this.#inFlightJson : undefined);
          const count = this.hub.deliver(publication.topic, out, publication);
          this.counters.messagesOut += count.messages;
          this.counters.bytesOut += count.bytes;
          return;
        }
        case "broadcast":
          this.#deliverBroadcast(event.data);
          return;
        case "presence": {
          if (!this.options.presence || !this.hub.has(event.topic)) return;
          const out = new Outbound(
            this.encodeContext,
            messageEnvelope(`presence_${event.action}`, { topic: event.topic, user_id: event.userId, data: event.data }, { category: "WSE" }),
          );
          const count = this.hub.deliver(event.topic, out);
          this.counters.messagesOut += count.messages;
          this.counters.bytesOut += count.bytes;
          return;
        }
        case "control":
          if (event.command === "disconnect") this.#disconnectLocal(event);
          return;
      }
    } catch (error) {
      this.logger.error("broker event failed", { kind: event.kind, error: String(error) });
    }
  }

  #deliverBroadcast(data: PublicationData): void {
    const env = messageEnvelope(data.type, data.payload, {
      id: data.id,
      category: data.category,
      priority: data.priority,
      correlationId: data.correlationId,
    });
    const out = new Outbound(this.encodeContext, env);
    const plain = [0, 0, 0];
    this.sessions.forEach((s) => {
      if (!s.key) plain[s.variant]!++;
    });
    if (this.#fanOut) {
      for (const variant of VARIANTS) {
        if (plain[variant] === 0) continue;
        const frame = out.frame(variant);
        this.#fanOut.publish(broadcastChannel(variant), frame);
        this.counters.messagesOut += plain[variant]!;
        this.counters.bytesOut += plain[variant]! * (typeof frame === "string" ? frame.length : frame.byteLength);
      }
    }
    for (const s of this.encryptedSessions) {
      if (s.key && !s.closed) s.queueFrame(out.encrypted(s.variant, s.key));
    }
  }

  #ping(): void {
    if (!this.#fanOut || this.sessions.size === 0) return;
    const now = new Date().toISOString();
    // Key order matters (Python client): {"c":"WSE","t":"ping",...}; plaintext text for every
    // connection, so it rides the broadcast channels (encrypted connections get it one by one).
    const ping = `{"c":"WSE","t":"ping","ts":"${now}","v":1,"p":{"server_time":"${now}"}}`;
    for (const variant of VARIANTS) this.#fanOut.publish(broadcastChannel(variant), ping);
    for (const s of this.encryptedSessions) s.sendFrame(ping); // counted by sendFrame
    let plain = 0;
    this.sessions.forEach((s) => {
      if (!s.key) plain++;
    });
    this.counters.messagesOut += plain;
  }

  #sweep(): void {
    const now = Date.now();
    const idle = this.options.idleTimeoutMs;
    this.sessions.forEach((session) => {
      if (now - session.lastSeen > idle) {
        session.close(CloseCode.IDLE, "idle timeout");
        return;
      }
      this.checkBackpressure(session);
      session.compact(now);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Embedding API
  // -------------------------------------------------------------------------------------------

  /**
   * Publishes to a topic; resolves with the position. Rejects with a `TypeError` on bad input.
   * With the memory broker the publication is stored and fanned out before this returns (no
   * `async` frame on that path).
   */
  publish(topic: string, type: string, payload: unknown, options: ServerPublishOptions = NO_PUBLISH_OPTIONS): Promise<StreamTop> {
    let data: PublicationData;
    let payloadJson: string;
    try {
      const problem = topicProblem(topic);
      if (problem) throw new TypeError(`invalid topic: ${problem}`);
      if (typeof type !== "string" || type.length === 0 || type.length > 256) throw new TypeError("type must be a non-empty string of at most 256 characters");
      if (!isPlainObject(payload)) throw new TypeError("payload must be a JSON object");
      try {
        payloadJson = JSON.stringify(payload);
      } catch (error) {
        throw new TypeError(`payload is not JSON-serializable: ${(error as Error).message}`);
      }
      this.#checkDeliverable(topic, type, payload, payloadJson);
      data = { type, payload, id: options.id ?? crypto.randomUUID(), ts: isoNow() };
      if (options.priority !== undefined) data.priority = options.priority;
      if (options.correlationId !== undefined) data.correlationId = options.correlationId;
      const publishOptions = options.id ? { idempotencyTtlMs: this.options.idempotencyTtlMs } : NO_PUBLISH_OPTIONS;
      if (this.broker instanceof MemoryBroker) {
        // The broker stores and emits synchronously: its size estimate and the fan-out reuse the
        // payload text through the in-flight slot (restored after, in case of re-entry).
        const previousData = this.#inFlightData;
        const previousJson = this.#inFlightJson;
        this.#inFlightData = data;
        this.#inFlightJson = payloadJson;
        let publication: Publication;
        try {
          publication = this.broker.publishSync(topic, data, publishOptions);
        } finally {
          this.#inFlightData = previousData;
          this.#inFlightJson = previousJson;
        }
        // A dedup hit on `id` returns the first publication's very data object.
        if (!options.id || publication.data === data) this.counters.publications++;
        return Promise.resolve({ epoch: publication.epoch, offset: publication.offset });
      }
      return this.#publishRemote(topic, data, publishOptions, !!options.id);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #publishRemote(topic: string, data: PublicationData, publishOptions: PublishOptions, withId: boolean): Promise<StreamTop> {
    const publication = await this.broker.publish(topic, data, publishOptions);
    // Count new publications only: a dedup hit on `id` returns the first publication's data, a
    // copy told apart by its publish time.
    if (!withId || publication.data === data || publication.data.ts === data.ts) this.counters.publications++;
    return { epoch: publication.epoch, offset: publication.offset };
  }

  /**
   * Refuses a publication no subscriber could accept: every client caps an envelope at
   * `maxDecompressedSize` bytes and `maxDepth` levels (PROTOCOL.md §3), and a publication over
   * either would be dropped by every client and wedge its recovery.
   */
  #checkDeliverable(topic: string, type: string, payload: unknown, payloadJson: string): void {
    const limit = this.options.maxDecompressedSize - ENVELOPE_OVERHEAD_BYTES - topic.length - type.length;
    const bytes = payloadJson.length * 3 <= limit ? payloadJson.length : utf8ByteLength(payloadJson);
    if (bytes > limit) throw new TypeError(`payload too large: ${bytes} bytes, at most ${limit} fit in one envelope`);
    const maxPayloadDepth = this.options.maxDepth - 1;
    // Each level of JSON nesting takes an opening bracket, so a text with few of them needs no walk.
    if (openingBracketsOver(payloadJson, maxPayloadDepth) && depthOf(payload, maxPayloadDepth) > maxPayloadDepth) {
      throw new TypeError(`payload nested deeper than ${maxPayloadDepth} levels`);
    }
  }

  /** Sends a message to one local connection. */
  send(connectionId: string, type: string, payload: unknown): boolean {
    const session = this.sessions.get(connectionId);
    if (!session || session.closed) return false;
    session.sendMessage(type, payload, { id: crypto.randomUUID() });
    return true;
  }

  /** Sends to every connection on every node. */
  async broadcast(type: string, payload: unknown): Promise<void> {
    if (typeof type !== "string" || type.length === 0) throw new TypeError("type must be a non-empty string");
    await this.broker.broadcast({ type, payload, id: crypto.randomUUID(), ts: new Date().toISOString() });
  }

  /** Server-side subscribe (no ACL/hook); sends the usual reply to the client. */
  async subscribe(connectionId: string, topics: string[]): Promise<string[]> {
    const session = this.sessions.get(connectionId);
    if (!session) return [];
    return session.subscribeTopics(topics, { recover: false, authorize: false });
  }

  /** Server-side unsubscribe (all topics when omitted). */
  async unsubscribe(connectionId: string, topics?: string[]): Promise<void> {
    const session = this.sessions.get(connectionId);
    if (!session) return;
    await session.unsubscribeTopics(topics ?? [...session.subscriptions]);
  }

  /** Closes matching connections here and asks other nodes to do the same. */
  async disconnect(options: DisconnectOptions): Promise<number> {
    if (!options.userId && !options.connectionId) throw new TypeError("disconnect needs userId or connectionId");
    const event = {
      kind: "control" as const,
      command: "disconnect" as const,
      userId: options.userId,
      connectionId: options.connectionId,
      code: options.code,
      reason: options.reason,
    };
    const closed = this.#disconnectLocal(event);
    if (this.clustered) await this.broker.control(event);
    return closed;
  }

  #disconnectLocal(event: { userId?: string; connectionId?: string; code?: number; reason?: string }): number {
    const targets: Session[] = [];
    if (event.connectionId) {
      const s = this.sessions.get(event.connectionId);
      if (s && (!event.userId || s.userId === event.userId)) targets.push(s);
    } else if (event.userId) {
      const mine = this.#byUser.get(event.userId);
      if (mine instanceof Set) targets.push(...mine);
      else if (mine) targets.push(mine);
    }
    const code = sendableCloseCode(event.code) ?? CloseCode.NORMAL;
    for (const s of targets) s.close(code, (event.reason ?? "disconnected by server").slice(0, 120));
    return targets.length;
  }

  /** Raw presence members. */
  presenceMembers(topic: string): Promise<PresenceMember[]> {
    return this.broker.presence(topic);
  }

  /** Presence grouped by user. */
  async presenceSummary(topic: string): Promise<PresenceSummary> {
    const members = await this.broker.presence(topic);
    const byUser: PresenceSummary["members"] = {};
    for (const m of members) {
      const entry = byUser[m.userId];
      if (entry) {
        entry.connections++;
        entry.data = m.data;
      } else {
        byUser[m.userId] = { data: m.data, connections: 1 };
      }
    }
    return { topic, members: byUser, num_users: Object.keys(byUser).length, num_connections: members.length };
  }

  /** Retained history of a topic. */
  async history(topic: string, query: HistoryQuery = {}): Promise<HistoryAnswer> {
    const problem = topicProblem(topic);
    if (problem) throw new TypeError(`invalid topic: ${problem}`);
    const since = query.since ?? -1;
    if (!Number.isSafeInteger(since) || since < -1) throw new TypeError("since must be an integer ≥ -1");
    const limit = Math.max(0, Math.min(query.limit ?? this.options.history.maxRecovery, 10_000));
    const result = await this.broker.history(topic, since, limit);
    if (query.epoch !== undefined && query.epoch !== result.top.epoch) {
      return { top: result.top, publications: [], truncated: true, epochMatches: false };
    }
    return { ...result, epochMatches: true };
  }

  /** Summary numbers. */
  stats(): ServerStats {
    const c = this.counters;
    return {
      connections: this.sessions.size,
      users: this.#byUser.size,
      topics: this.hub.size,
      publications: c.publications,
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      uptimeSeconds: Math.floor((Date.now() - this.#startedAt) / 1000),
      draining: this.draining,
    };
  }

  /** Counters for `/metrics`. */
  metrics(): ServerMetrics {
    const topics: Array<[string, number]> = [];
    for (const t of this.hub.topics()) topics.push([t, this.hub.count(t)]);
    topics.sort((a, b) => b[1] - a[1]);
    return {
      connections: this.sessions.size,
      ...this.counters,
      topics: Object.fromEntries(topics.slice(0, METRICS_TOPIC_LIMIT)),
      topicCount: this.hub.size,
      brokerHealthy: this.broker.healthy,
      draining: this.draining,
      uptimeSeconds: Math.floor((Date.now() - this.#startedAt) / 1000),
    };
  }

  /**
   * Stops accepting connections and closes the open ones in batches with jittered pauses; after
   * `timeoutMs` what is left is closed at once, and sockets that did not finish closing are cut.
   */
  drain(options: DrainCallOptions = {}): Promise<void> {
    this.#draining ??= this.#drain(options);
    return this.#draining;
  }

  async #drain(options: DrainCallOptions): Promise<void> {
    const d = this.options.drain;
    const code = options.code ?? d.closeCode;
    const timeoutMs = options.timeoutMs ?? d.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const reason = code === CloseCode.DRAIN ? "server draining" : "server restart";
    this.logger.info("draining", { connections: this.sessions.size, code, timeout_ms: timeoutMs });
    const sockets: Array<HostSocket> = [];
    while (this.sessions.size > 0) {
      const batch = [...this.sessions.values()].slice(0, d.batchSize);
      for (const s of batch) {
        sockets.push(s.socket);
        s.close(code, reason);
      }
      if (this.sessions.size === 0) break;
      if (Date.now() >= deadline) {
        for (const s of [...this.sessions.values()]) {
          sockets.push(s.socket);
          s.close(code, reason);
        }
        break;
      }
      const pause = d.intervalMs * (0.5 + Math.random());
      await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
    }
    // Let the close handshakes finish, bounded by the deadline (at least a short grace period).
    const closeBy = Math.max(deadline, Date.now() + Math.min(1000, timeoutMs));
    while (this.#openSockets > 0 && Date.now() < closeBy) await sleep(20);
    if (this.#openSockets > 0) {
      for (const s of sockets) {
        try {
          s.terminate();
        } catch {
          // gone
        }
      }
    }
    this.logger.info("drained", { remaining: this.#openSockets });
  }

  /** Stops timers and closes the broker when this engine created it. Drain first for a graceful stop. */
  async close(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#pingTimer);
    clearInterval(this.#sweepTimer);
    for (const t of this.#terminateTimers) clearTimeout(t);
    this.#terminateTimers.clear();
    for (const s of [...this.sessions.values()]) s.close(CloseCode.RESTART, "server stopped");
    if (this.#ownsBroker) await this.broker.close();
  }
}
