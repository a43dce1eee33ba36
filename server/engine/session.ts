/**
 * One connection's protocol state machine (PROTOCOL.md §2–§7): the `server_ready` greeting,
 * `client_hello` → `server_hello` with the key exchange, ping/PONG, the inbound pipeline (size,
 * rate limit, decode, decrypt, envelope checks), subscriptions with recovery and the gapless
 * seam, presence, snapshots, batches, client publish and application messages.
 *
 * @module
 */
import { CodecError, type EcdhKeyPair, type SessionKey } from "../../wasm/api.ts";
import { decodeFrame } from "../../wasm/frame.ts";
import { type Envelope, EnvelopeError, parseEnvelope } from "../../wasm/envelope.ts";
import type { StreamTop } from "../broker/types.ts";
import type { ConnectionInfo, InboundMessage, SnapshotResult } from "../types.ts";
import { AbuseTracker, InboundRateLimiter } from "./rate-limit.ts";
import { CloseCode, DECRYPTION_ERROR_EVERY, type ErrorCode, GARBAGE_CLOSE_THRESHOLD } from "./codes.ts";
import type { Engine } from "./engine.ts";
import type { HostSocket, UpgradeData } from "./host.ts";
import { broadcastChannel, type Held, type HubMember } from "./hub.ts";
import { messageEnvelope, Outbound, publicationEnvelope, Variant } from "./outbound.ts";
import { type ClientPosition, decideRecovery, parsePosition, type RecoveryOutcome } from "./recovery.ts";
import { topicProblem } from "./topics.ts";


const SETTLED: Promise<void> = Promise.resolve();

/** Options of `Session.subscribeTopics`. */
export interface SubscribeRequest {
  /** Recover topics that have a position. */
  recover: boolean;
  /** Per-topic positions (`recovery` of the request). */
  positions?: unknown;
  /** One position for every topic (2.x style `epoch`/`offset` at payload level). */
  fallback?: ClientPosition | null;
  /** Presence data to track the user with, when given. */
  presence?: unknown;
  /** Apply the ACL and the `authorizeSubscribe` hook. */
  authorize: boolean;
  /** Correlation id to echo in the reply. */
  correlationId?: string;
}

interface TopicResult {
  outcome: RecoveryOutcome | { recovered: false; top: StreamTop; reason?: undefined };
  requested: boolean;
}

/** UTF-8 size of a text frame; exact only when it could matter for `limit` (3 bytes per UTF-16 unit at most). */
function textSize(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : Buffer.byteLength(text, "utf8");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function decodeBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) && !/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return null;
  try {
    return new Uint8Array(Buffer.from(text, text.includes("-") || text.includes("_") ? "base64url" : "base64"));
  } catch {
    return null;
  }
}

function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** A connected client. */
export class Session implements HubMember, ConnectionInfo {
  /** Server-assigned connection id. */
  readonly connectionId: string;
  /** Authenticated user id. */
  readonly userId: string;
  /** Verified claims. */
  readonly claims: Record<string, unknown>;
  /** Remote address, when known. */
  readonly remoteAddress?: string;
  /** Topics held (live or being subscribed). */
  readonly subscriptions = new Set<string>();
  /** Topics where this connection is present (allocated on first use: most connections never are). */
  #presenceTopics: Set<string> | null = null;
  /** Last inbound frame, ms. */
  lastSeen: number;
  /** Connected at, ms. */
  readonly connectedAt: number;
  /** Closed (or closing): nothing more is sent or handled. */
  closed = false;

  #variant: Variant;
  #key: SessionKey | null = null;
  #keyPair: EcdhKeyPair | null = null;
  readonly #msgpack: boolean;
  #zstd = false;
  readonly #engine: Engine;
  readonly #socket: HostSocket;
  readonly #acl: { allows(topic: string): boolean } | null;
  readonly #limiter: InboundRateLimiter;
  #garbage: AbuseTracker | null = null;
  #decryptFailures = 0;
  #lastRateLimitedError = -Infinity;
  #chain: Promise<void> = SETTLED;
  #protocolVersion = 1;

  /** Creates the session for an accepted upgrade (identity present). */
  constructor(engine: Engine, socket: HostSocket, data: UpgradeData) {
    const identity = data.identity!;
    this.#engine = engine;
    this.#socket = socket;
    this.connectionId = data.connectionId;
    this.userId = identity.userId;
    this.claims = identity.claims;
    this.#acl = identity.acl;
    this.remoteAddress = data.remoteAddress;
    this.#msgpack = data.msgpack;
    this.#variant = data.msgpack ? Variant.MSGPACK : Variant.JSON;
    this.lastSeen = this.connectedAt = Date.now();
    const rl = engine.options.rateLimit;
    this.#limiter = new InboundRateLimiter({
      capacity: rl.capacity,
      refillPerSecond: rl.refillPerSecond,
      abuseThreshold: rl.abuseThreshold,
    });
  }

  /** The subscribed topics (ConnectionInfo). */
  get topics(): ReadonlySet<string> {
    return this.subscriptions;
  }

  /** The wire variant (HubMember). */
  get variant(): Variant {
    return this.#variant;
  }

  /** The session key once encryption is on (HubMember). */
  get key(): SessionKey | null {
    return this.#key;
  }

  /** The host socket. */
  get socket(): HostSocket {
    return this.#socket;
  }

  /** Joins a host channel (HubMember). */
  join(channel: string): void {
    if (!this.closed) this.#socket.subscribe(channel);
  }

  /** Leaves a host channel (HubMember). */
  leave(channel: string): void {
    if (!this.closed) this.#socket.unsubscribe(channel);
  }

  /** Sends one encoded frame to this connection (HubMember). */
  sendFrame(frame: string | Uint8Array): void {
    if (this.closed) return;
    const status = this.#socket.send(frame);
    const m = this.#engine.counters;
    m.messagesOut++;
    m.bytesOut += typeof frame === "string" ? frame.length : frame.byteLength;
    if (status === -1 || status === 0) this.#engine.checkBackpressure(this);
  }

  /** Sends a message in this connection's variant, encrypted once a key exists. */
  sendOutbound(out: Outbound): void {
    if (this.closed) return;
    this.sendFrame(this.#key ? out.encrypted(this.#variant, this.#key) : out.frame(this.#variant));
  }

  /** Sends a system or direct message. */
  sendMessage(
    type: string,
    payload: unknown,
    extra?: { id?: string; category?: string; correlationId?: string; priority?: number },
  ): void {
    this.sendOutbound(new Outbound(this.#engine.encodeContext, messageEnvelope(type, payload, extra)));
  }

  /** Sends an `error` envelope. */
  sendError(
    code: ErrorCode,
    message: string,
    recoverable = true,
    details?: Record<string, unknown>,
    cid?: string,
    extra?: Record<string, unknown>,
  ): void {
    const p: Record<string, unknown> = { code, message, recoverable, ...extra };
    if (details) p.details = details;
    p.timestamp = new Date().toISOString();
    this.sendMessage("error", p, { category: "WSE", correlationId: cid });
  }

  /** Starts the close handshake; cleanup happens when the host reports the close. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#socket.close(code, reason);
    } catch {
      // already gone
    }
    this.#engine.sessionClosed(this, code, reason);
  }

  /** Sends `server_ready`, joins the shared channels and runs the initial subscription. */
  start(initialTopics: string[]): void {
    const o = this.#engine.options;
    const now = new Date().toISOString();
    const ready = {
      c: "WSE",
      t: "server_ready",
      id: crypto.randomUUID(),
      ts: now,
      seq: 1,
      v: 1,
      p: {
        message: "Connected to WSE server",
        details: {
          connection_id: this.connectionId,
          user_id: this.userId,
          server_time: now,
          version: 1,
          features: {
            compression: true,
            encryption: false,
            recovery: o.recovery,
            presence: o.presence,
            batching: true,
            priority_queue: true,
            msgpack: true,
          },
        },
      },
    };
    this.sendFrame(JSON.stringify(ready));
    this.#socket.subscribe(broadcastChannel(this.#variant));
    if (initialTopics.length > 0) {
      this.#enqueue(async () => {
        await this.subscribeTopics(initialTopics, { recover: false, authorize: true });
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Inbound
  // -------------------------------------------------------------------------------------------

  /** Handles one inbound WebSocket frame. Never throws. */
  receive(data: string | Uint8Array): void {
    if (this.closed) return;
    const now = Date.now();
    this.lastSeen = now;
    const m = this.#engine.counters;
    const o = this.#engine.options;
    const size = typeof data === "string" ? textSize(data, o.maxMessageSize) : data.byteLength;
    m.messagesIn++;
    m.bytesIn += size;
    if (size > o.maxMessageSize) {
      this.#invalid("MESSAGE_TOO_LARGE", `frame of ${size} bytes exceeds ${o.maxMessageSize}`);
      return;
    }
    if (!this.#admit()) return;
    let env: Envelope;
    try {
      const frame = decodeFrame(data, this.#engine.codec, { key: this.#key ?? undefined, maxSize: o.maxDecompressedSize });
      if (frame.encrypted) this.#decryptFailures = 0;
      env = parseEnvelope(frame, { maxDepth: o.maxDepth });
    } catch (error) {
      this.#decodeFailed(error);
      return;
    }
    this.#dispatch(env);
  }

  /** Rate limit; false when the message must be dropped. */
  #admit(): boolean {
    const decision = this.#limiter.check();
    if (decision.action === "allow") {
      if (decision.warning) {
        // `limit` is the bucket capacity, as upstream sends it and the Python client logs it.
        const warning = { ...decision.warning, limit: this.#engine.options.rateLimit.capacity };
        this.sendMessage("rate_limit_warning", warning, { category: "WSE" });
      }
      return true;
    }
    const m = this.#engine.counters;
    m.rateLimited++;
    if (decision.action === "close") {
      m.rateLimitCloses++;
      this.sendError("RATE_LIMITED", "sustained rate limit abuse", false, { retry_after: 1 }, undefined, { retry_after: 1 });
      this.close(CloseCode.RATE_ABUSE, "rate limit abuse");
      return false;
    }
    const now = Date.now();
    if (now - this.#lastRateLimitedError >= 250) {
      this.#lastRateLimitedError = now;
      this.sendError("RATE_LIMITED", "rate limit exceeded; message dropped", true, {
        retry_after: decision.retryAfterSeconds,
      }, undefined, { retry_after: decision.retryAfterSeconds });
    }
    return false;
  }

  #decodeFailed(error: unknown): void {
    if (error instanceof CodecError) {
      if (error.code === "DECRYPT_FAILED") {
        this.#engine.counters.decryptionFailures++;
        this.#decryptFailures++;
        if (this.#decryptFailures % DECRYPTION_ERROR_EVERY === 0) {
          this.sendError("DECRYPTION_FAILED", `${this.#decryptFailures} frames failed to decrypt`, true);
        }
        this.#countGarbage();
        return;
      }
      if (error.code === "TOO_LARGE") {
        this.#invalid("MESSAGE_TOO_LARGE", error.message);
        return;
      }
      this.#invalid("INVALID_MESSAGE", error.message);
      return;
    }
    if (error instanceof EnvelopeError) {
      this.#invalid(error.code, error.message);
      return;
    }
    this.#invalid("INVALID_MESSAGE", error instanceof Error ? error.message : "undecodable frame");
  }

  #invalid(code: ErrorCode, message: string, cid?: string): void {
    this.#engine.counters.invalidMessages++;
    this.sendError(code, message, true, undefined, cid);
    this.#countGarbage();
  }

  #countGarbage(): void {
    this.#garbage ??= new AbuseTracker({ threshold: GARBAGE_CLOSE_THRESHOLD, windowMs: 10_000 });
    if (this.#garbage.record()) {
      this.sendError("INVALID_MESSAGE", "too many invalid messages", false);
      this.close(CloseCode.PROTOCOL_ABUSE, "protocol abuse");
    }
  }

  /** Runs async handlers one after another so a connection's messages keep their order. */
  #enqueue(task: () => Promise<void> | void): void {
    this.#chain = this.#chain
      .then(() => (this.closed ? undefined : task()))
      .catch((error) => {
        this.#engine.logger.error("message handler failed", {
          connection_id: this.connectionId,
          error: error instanceof Error ? error.message : String(error),
        });
        this.sendError("INTERNAL_ERROR", "internal error", true);
      });
  }

  #dispatch(env: Envelope): void {
    switch (env.t) {
      case "ping":
        this.#pong(env);
        return;
      case "PONG":
      case "pong":
        return;
      case "client_hello":
        this.#hello(env);
        return;
      default:
        this.#enqueue(() => this.#handle(env, true));
    }
  }

  async #handle(env: Envelope, allowBatch: boolean): Promise<void> {
    if (this.closed) return;
    switch (env.t) {
      case "ping":
        this.#pong(env);
        return;
      case "PONG":
      case "pong":
        return;
      case "client_hello":
        this.#hello(env);
        return;
      case "subscription_update":
      case "subscription":
        await this.#subscription(env);
        return;
      case "sync_request":
        await this.#snapshots(env);
        return;
      case "batch":
        if (!allowBatch) {
          this.#invalid("INVALID_MESSAGE", "nested batch", env.cid);
          return;
        }
        await this.#batch(env);
        return;
      case "presence_update":
        await this.#presenceUpdate(env);
        return;
      case "presence_request":
        await this.#presenceRequest(env);
        return;
      case "publish":
        await this.#clientPublish(env);
        return;
      default:
        this.#applicationMessage(env);
    }
  }

  #pong(env: Envelope): void {
    const now = Date.now();
    const ct = env.p.timestamp;
    const clientTs = typeof ct === "number" && Number.isFinite(ct) ? ct : null;
    const latency = clientTs === null ? 0 : Math.max(0, now - clientTs);
    // Key order matters here (Python client): {"c":"WSE","t":"PONG",...}; always plaintext text.
    this.sendFrame(
      `{"c":"WSE","t":"PONG","v":1,"p":{"client_timestamp":${clientTs === null ? "null" : clientTs},"server_timestamp":${now},"latency":${latency}}}`,
    );
  }

  #hello(env: Envelope): void {
    const p = env.p;
    const o = this.#engine.options;
    const features = isPlainObject(p.features) ? p.features : {};
    const pv = typeof p.protocol_version === "number" && Number.isFinite(p.protocol_version) ? p.protocol_version : 1;
    this.#protocolVersion = Math.max(1, Math.min(Math.floor(pv), 2));
    const previous = { variant: this.#variant, key: this.#key };
    if (features.zstd === true && !this.#msgpack) this.#zstd = true;
    let encryption = this.#key !== null;
    if (features.encryption === true && !this.#key) {
      const raw = typeof p.encryption_public_key === "string" ? decodeBase64(p.encryption_public_key) : null;
      try {
        if (!raw || raw.length !== 65 || raw[0] !== 0x04) throw new CodecError("BAD_KEY", "public key must be a 65-byte uncompressed P-256 point");
        const pair = this.#engine.codec.generateKeyPair();
        this.#key = pair.deriveKey(raw);
        this.#keyPair = pair;
        encryption = true;
      } catch (error) {
        this.sendError("KEY_EXCHANGE_FAILED", error instanceof Error ? error.message : "key exchange failed", true);
      }
    }
    this.#variant = this.#msgpack ? Variant.MSGPACK : this.#zstd ? Variant.ZSTD : Variant.JSON;
    if (previous.variant !== this.#variant || previous.key !== this.#key) this.#rewire(previous);
    const hello: Record<string, unknown> = {
      connection_id: this.connectionId,
      server_version: o.serverVersion,
      protocol_version: this.#protocolVersion,
      server_time: new Date().toISOString(),
      ping_interval: o.pingIntervalMs,
      features: {
        compression: true,
        encryption,
        msgpack: true,
        recovery: o.recovery,
        presence: o.presence,
        batching: true,
        priority_queue: true,
        cluster: this.#engine.clustered,
        zstd: this.#zstd,
      },
      limits: {
        max_message_size: o.maxMessageSize,
        rate_limit_capacity: o.rateLimit.capacity,
        rate_limit_refill: o.rateLimit.refillPerSecond,
      },
    };
    if (encryption && this.#keyPair) hello.encryption_public_key = encodeBase64(this.#keyPair.publicKey);
    this.sendFrame(JSON.stringify(messageEnvelope("server_hello", hello, { category: "WSE" })));
  }

  #rewire(previous: { variant: Variant; key: SessionKey | null }): void {
    const engine = this.#engine;
    engine.hub.rewire(this, this.subscriptions, previous);
    if (!previous.key) this.#socket.unsubscribe(broadcastChannel(previous.variant));
    if (this.#key) engine.encryptedSessions.add(this);
    else this.#socket.subscribe(broadcastChannel(this.#variant));
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions and recovery
  // -------------------------------------------------------------------------------------------

  async #subscription(env: Envelope): Promise<void> {
    const p = env.p;
    const action = p.action ?? "subscribe";
    let topics: unknown[] | null = Array.isArray(p.topics) ? p.topics : typeof p.topic === "string" ? [p.topic] : null;
    if (typeof p.topics === "string") topics = p.topics.split(",").filter((t) => t.length > 0);
    if (!topics) {
      this.#invalid("INVALID_MESSAGE", "subscription_update needs a topics array", env.cid);
      return;
    }
    if (action === "unsubscribe") {
      const names = topics.filter((t): t is string => typeof t === "string");
      await this.unsubscribeTopics(names);
      this.sendMessage(
        "subscription_update",
        { action: "unsubscribe", success: true, success_topics: names, failed_topics: [], errors: {} },
        { category: "WSE", correlationId: env.cid },
      );
      return;
    }
    if (action !== "subscribe") {
      this.#invalid("INVALID_MESSAGE", `unknown subscription action ${String(action).slice(0, 64)}`, env.cid);
      return;
    }
    await this.subscribeTopics(topics, {
      recover: p.recover === true,
      positions: p.recovery,
      fallback: p.recover === true ? parsePosition({ epoch: p.epoch, offset: p.offset }) : null,
      presence: p.presence,
      authorize: true,
      correlationId: env.cid,
    });
  }

  /**
   * Subscribes to topics, recovering where asked, and replies. The seam: every accepted topic is
   * held (live messages buffered) before the stream positions are read; after the reads, replays
   * go out, then the reply, then buffered messages past each topic's reported offset, and only
   * then the topic goes live — all synchronously, so nothing is lost or sent twice.
   */
  async subscribeTopics(rawTopics: unknown[], request: SubscribeRequest): Promise<string[]> {
    const engine = this.#engine;
    const o = engine.options;
    const failed: string[] = [];
    const errors: Record<string, string> = {};
    const fail = (topic: string, reason: string) => {
      failed.push(topic);
      errors[topic] = reason;
    };
    const accepted: string[] = [];
    const seen = new Set<string>();
    for (const raw of rawTopics) {
      const problem = topicProblem(raw);
      if (problem) {
        fail(typeof raw === "string" ? raw.slice(0, 1024) : String(raw).slice(0, 64), "invalid_topic");
        continue;
      }
      const topic = raw as string;
      if (seen.has(topic)) continue;
      seen.add(topic);
      if (request.authorize && this.#acl && !this.#acl.allows(topic)) {
        fail(topic, "forbidden");
        continue;
      }
      if (!this.subscriptions.has(topic) && this.subscriptions.size + accepted.length >= o.maxTopicsPerConnection) {
        fail(topic, "too_many_topics");
        continue;
      }
      accepted.push(topic);
    }
    const hook = o.hooks.authorizeSubscribe;
    if (request.authorize && hook && accepted.length > 0) {
      const verdicts = await Promise.all(
        accepted.map(async (t) => {
          try {
            return (await hook(this, t)) === true;
          } catch {
            return false;
          }
        }),
      );
      for (let i = accepted.length - 1; i >= 0; i--) {
        if (!verdicts[i]) {
          fail(accepted[i]!, "forbidden");
          accepted.splice(i, 1);
        }
      }
    }
    const presenceData = this.#presenceData(request.presence);
    if (this.closed) return [];

    // Hold every accepted topic before reading positions.
    const buffers: Held[][] = [];
    const wasLive = accepted.map((topic) => engine.hub.isLive(topic, this));
    for (const topic of accepted) {
      const held = engine.hub.hold(topic, this);
      this.subscriptions.add(topic);
      buffers.push(held.buffer);
    }
    let results: TopicResult[];
    try {
      // Every subscriber waits until the node's interest is effective (a broker's repeated
      // subscribe waits for the pending one), so no publication after the position read is missed.
      if (accepted.length > 0) await engine.broker.subscribe(accepted);
      results = await Promise.all(accepted.map((topic) => this.#position(topic, request)));
    } catch (error) {
      engine.logger.error("subscribe failed", { connection_id: this.connectionId, error: String(error) });
      accepted.forEach((topic, i) => {
        fail(topic, "unavailable");
        if (wasLive[i]) {
          // A re-subscribe (recovery request) that failed keeps the live subscription it had.
          for (const held of engine.hub.heldBuffer(topic, this) ?? []) this.sendOutbound(held.out);
          engine.hub.release(topic, this);
          return;
        }
        this.subscriptions.delete(topic);
        if (engine.hub.remove(topic, this)) void engine.broker.unsubscribe([topic]).catch(() => {});
      });
      accepted.length = 0;
      results = [];
    }
    if (this.closed) return [];

    // Synchronous from here: replay, reply, flush, go live.
    const succeeded: string[] = [];
    const recovery: Record<string, Record<string, unknown>> = {};
    let requested = 0;
    let recoveredCount = 0;
    for (let i = 0; i < accepted.length; i++) {
      const topic = accepted[i]!;
      if (engine.hub.heldBuffer(topic, this) !== buffers[i]) continue; // unsubscribed meanwhile
      const { outcome, requested: asked } = results[i]!;
      succeeded.push(topic);
      const entry: Record<string, unknown> = {
        epoch: outcome.top.epoch,
        offset: outcome.top.offset,
        recovered: outcome.recovered,
        count: 0,
      };
      if (asked) {
        requested++;
        if (outcome.recovered) {
          recoveredCount++;
          engine.counters.recoveryHits++;
          for (const publication of outcome.publications) {
            this.sendOutbound(new Outbound(engine.encodeContext, publicationEnvelope(publication)));
          }
          entry.count = outcome.publications.length;
        } else {
          engine.counters.recoveryMisses++;
          if (outcome.reason) entry.reason = outcome.reason;
        }
      }
      recovery[topic] = entry;
    }
    this.sendMessage(
      "subscription_update",
      {
        action: "subscribe",
        success: failed.length === 0,
        success_topics: succeeded,
        failed_topics: failed,
        errors,
        recoverable: o.recovery,
        recovered: requested > 0 && recoveredCount === requested,
        recovery,
      },
      { category: "WSE", correlationId: request.correlationId },
    );
    for (let i = 0; i < accepted.length; i++) {
      const topic = accepted[i]!;
      const buffer = buffers[i]!;
      if (engine.hub.heldBuffer(topic, this) !== buffer) continue;
      const top = results[i]!.outcome.top;
      for (const held of buffer) {
        const pub = held.publication;
        if (pub && pub.epoch === top.epoch && pub.offset <= top.offset) continue; // already covered
        this.sendOutbound(held.out);
      }
      engine.hub.release(topic, this);
    }
    if (presenceData && succeeded.length > 0) {
      for (const topic of succeeded) {
        (this.#presenceTopics ??= new Set()).add(topic);
        await engine.broker.presenceAdd(topic, { userId: this.userId, connectionId: this.connectionId, data: presenceData });
      }
      if (this.closed) for (const topic of succeeded) void engine.broker.presenceRemove(topic, this.connectionId).catch(() => {});
    }
    return succeeded;
  }

  async #position(topic: string, request: SubscribeRequest): Promise<TopicResult> {
    const engine = this.#engine;
    const position = request.recover ? this.#positionFor(topic, request) : null;
    if (!position) return { outcome: { recovered: false, top: await engine.broker.top(topic) }, requested: false };
    if (!engine.options.recovery) {
      return { outcome: { recovered: false, top: await engine.broker.top(topic), reason: "no_history" }, requested: true };
    }
    const cap = engine.options.history.maxRecovery;
    const history = await engine.broker.history(topic, position.offset, cap + 1);
    return { outcome: decideRecovery(position, history, cap), requested: true };
  }

  #positionFor(topic: string, request: SubscribeRequest): ClientPosition | null {
    const positions = request.positions;
    if (isPlainObject(positions) && Object.hasOwn(positions, topic)) return parsePosition(positions[topic]);
    return request.fallback ?? null;
  }

  #presenceData(value: unknown): Record<string, unknown> | null {
    if (value === undefined || value === null || value === false) return null;
    const o = this.#engine.options;
    if (!o.presence) return null;
    const data = value === true ? {} : value;
    if (!isPlainObject(data)) {
      this.#invalid("INVALID_MESSAGE", "presence must be an object");
      return null;
    }
    const size = Buffer.byteLength(JSON.stringify(data), "utf8");
    if (size > o.presenceMaxData) {
      this.#invalid("MESSAGE_TOO_LARGE", `presence data of ${size} bytes exceeds ${o.presenceMaxData}`);
      return null;
    }
    return data;
  }

  /** Leaves topics (and their presence). */
  async unsubscribeTopics(topics: Iterable<string>): Promise<void> {
    const engine = this.#engine;
    const emptied: string[] = [];
    const presence: string[] = [];
    for (const topic of [...topics]) {
      if (!this.subscriptions.delete(topic)) continue;
      if (engine.hub.remove(topic, this)) emptied.push(topic);
      if (this.#presenceTopics?.delete(topic)) presence.push(topic);
    }
    await Promise.all([
      emptied.length > 0 ? engine.broker.unsubscribe(emptied) : undefined,
      ...presence.map((t) => engine.broker.presenceRemove(t, this.connectionId)),
    ]);
  }

  /** Releases everything this connection held; called once by the engine on close. */
  async release(): Promise<void> {
    const engine = this.#engine;
    engine.encryptedSessions.delete(this);
    const emptied: string[] = [];
    for (const topic of this.subscriptions) if (engine.hub.remove(topic, this)) emptied.push(topic);
    this.subscriptions.clear();
    const presence = this.#presenceTopics ? [...this.#presenceTopics] : [];
    this.#presenceTopics = null;
    await Promise.all([
      emptied.length > 0 ? engine.broker.unsubscribe(emptied) : undefined,
      ...presence.map((t) => engine.broker.presenceRemove(t, this.connectionId)),
    ]);
  }

  // -------------------------------------------------------------------------------------------
  // Presence, snapshots, batches, publish, application messages
  // -------------------------------------------------------------------------------------------

  async #presenceUpdate(env: Envelope): Promise<void> {
    if (!this.#engine.options.presence) {
      this.sendError("PRESENCE_DISABLED", "presence is disabled on this server", true, undefined, env.cid);
      return;
    }
    const data = this.#presenceData(env.p.data ?? {});
    if (!data) return;
    await Promise.all([...(this.#presenceTopics ?? [])].map((t) => this.#engine.broker.presenceUpdate(t, this.connectionId, data)));
  }

  async #presenceRequest(env: Envelope): Promise<void> {
    const topic = env.p.topic;
    const problem = topicProblem(topic);
    if (problem) {
      this.#invalid("INVALID_TOPIC", problem, env.cid);
      return;
    }
    if (this.#acl && !this.#acl.allows(topic as string)) {
      this.sendError("FORBIDDEN", "topic not allowed", true, { topic }, env.cid);
      return;
    }
    const summary = await this.#engine.presenceSummary(topic as string);
    this.sendMessage("presence", summary, { category: "WSE", correlationId: env.cid });
  }

  async #snapshots(env: Envelope): Promise<void> {
    const raw = env.p.topics;
    const topics = Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : [...this.subscriptions];
    const hook = this.#engine.options.hooks.snapshot;
    const served: string[] = [];
    let sent = 0;
    for (const topic of topics) {
      if (topicProblem(topic) || (this.#acl && !this.#acl.allows(topic as string))) continue;
      served.push(topic as string);
      if (!hook) continue;
      let result: unknown;
      try {
        result = await hook(this, topic as string);
      } catch (error) {
        this.#engine.logger.warn("snapshot hook failed", { topic, error: String(error) });
        continue;
      }
      if (this.closed) return;
      if (result === undefined || result === null) continue;
      let type = "snapshot";
      let payload: unknown = result;
      if (isPlainObject(result) && "payload" in result && Object.keys(result).every((k) => k === "type" || k === "payload")) {
        const r = result as unknown as SnapshotResult;
        if (typeof r.type === "string" && r.type.length > 0) type = r.type;
        payload = r.payload;
      }
      const p = isPlainObject(payload) && type !== "snapshot" ? payload : { topic, data: payload };
      this.sendMessage(type, p, { category: "S", correlationId: env.cid });
      sent++;
    }
    this.sendMessage(
      "snapshot_complete",
      { success: true, snapshots_sent: sent, topics: served },
      { category: "WSE", correlationId: env.cid },
    );
  }

  async #batch(env: Envelope): Promise<void> {
    const messages = env.p.messages;
    if (!Array.isArray(messages)) {
      this.#invalid("INVALID_MESSAGE", "batch needs a messages array", env.cid);
      return;
    }
    const o = this.#engine.options;
    for (let i = 0; i < messages.length; i++) {
      if (this.closed) return;
      if (i > 0 && !this.#admit()) return; // each inner message costs a token; drop the rest
      let inner: Envelope;
      try {
        inner = parseEnvelope(
          { encrypted: false, compression: "none", format: "json", text: JSON.stringify(messages[i]) },
          { maxDepth: o.maxDepth },
        );
      } catch (error) {
        this.#decodeFailed(error);
        continue;
      }
      await this.#handle(inner, false);
    }
  }

  async #clientPublish(env: Envelope): Promise<void> {
    const engine = this.#engine;
    const o = engine.options;
    const cid = env.cid;
    if (!o.clientPublish) {
      this.sendError("PUBLISH_DISABLED", "client publish is disabled on this server", true, undefined, cid);
      return;
    }
    const p = env.p;
    const topic = p.topic;
    const problem = topicProblem(topic);
    if (problem) {
      this.#invalid("INVALID_TOPIC", problem, cid);
      return;
    }
    const type = p.type ?? p.t ?? "message";
    if (typeof type !== "string" || type.length === 0 || type.length > 256) {
      this.#invalid("INVALID_MESSAGE", "publish needs a type string", cid);
      return;
    }
    const payload = p.payload ?? p.p ?? {};
    if (!isPlainObject(payload)) {
      this.#invalid("INVALID_MESSAGE", "publish payload must be an object", cid);
      return;
    }
    if (this.#acl && !this.#acl.allows(topic as string)) {
      this.sendError("FORBIDDEN", "topic not allowed", true, { topic }, cid);
      return;
    }
    const hook = o.hooks.authorizePublish;
    if (hook) {
      let ok = false;
      try {
        ok = (await hook(this, topic as string, type, payload)) === true;
      } catch {
        ok = false;
      }
      if (!ok) {
        this.sendError("FORBIDDEN", "publish not authorized", true, { topic }, cid);
        return;
      }
    }
    const id = typeof p.id === "string" && p.id.length > 0 && p.id.length <= 128 ? p.id : undefined;
    const position = await engine.publish(topic as string, type, payload, { id });
    this.sendMessage(
      "publish_ack",
      { topic, epoch: position.epoch, offset: position.offset },
      { category: "WSE", correlationId: cid },
    );
  }

  #applicationMessage(env: Envelope): void {
    const hook = this.#engine.options.hooks.onMessage;
    if (!hook) return;
    const message: InboundMessage = { type: env.t, payload: env.p };
    if (env.id !== undefined) message.id = env.id;
    if (env.cid !== undefined) message.correlationId = env.cid;
    if (env.c !== undefined) message.category = env.c;
    try {
      const result = hook(this, message);
      if (result && typeof (result as Promise<void>).catch === "function") {
        (result as Promise<void>).catch((error) =>
          this.#engine.logger.warn("onMessage hook failed", { connection_id: this.connectionId, error: String(error) }),
        );
      }
    } catch (error) {
      this.#engine.logger.warn("onMessage hook failed", { connection_id: this.connectionId, error: String(error) });
    }
  }
}
