/**
 * One connection's protocol state machine (PROTOCOL.md §2–§7): the `server_ready` greeting,
 * `client_hello` → `server_hello` with the key exchange, ping/PONG, the inbound pipeline (size,
 * rate limit, decode, decrypt, envelope checks), batches, and dispatch to the handlers in
 * `subscribe.ts` (subscriptions, recovery) and `requests.ts` (presence, snapshots, publish, app).
 *
 * @module
 */
import { CodecError, type EcdhKeyPair, type SessionKey } from "../../wasm/api.ts";
import { decodeFrame } from "../../wasm/frame.ts";
import { type Envelope, EnvelopeError, parseEnvelope } from "../../wasm/envelope.ts";
import type { ConnectionInfo } from "../types.ts";
import { connectionDeadline } from "./auth.ts";
import { AbuseTracker, InboundRateLimiter, RateLimitPolicy } from "./rate-limit.ts";
import { CloseCode, DECRYPTION_ERROR_EVERY, type ErrorCode, GARBAGE_CLOSE_THRESHOLD } from "./codes.ts";
import type { Engine } from "./engine.ts";
import type { HostSocket, UpgradeData } from "./host.ts";
import { broadcastChannel, type HubMember } from "./hub.ts";
import { isoNow, messageEnvelope, Outbound, Variant } from "./outbound.ts";
import type { BatchTarget, Frame } from "./write-batch.ts";
import { applicationMessage, clientPublish, presenceRequest, presenceUpdate, snapshots } from "./requests.ts";
import { handleSubscription, releaseTopics, type SubscribeRequest, subscribeTopics, unsubscribeTopics } from "./subscribe.ts";

export type { SubscribeRequest } from "./subscribe.ts";

const SETTLED: Promise<void> = Promise.resolve();

/** UTF-8 size of a text frame; exact only when it could matter for `limit` (3 bytes per UTF-16 unit at most). */
function textSize(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : Buffer.byteLength(text, "utf8");
}

/** What every session of one engine shares: made once per engine. */
interface Shared {
  /** The inbound rate-limit settings (each session keeps only its counters). */
  policy: RateLimitPolicy;
  /** `decodeFrame` options of a connection without a session key. */
  decode: { maxSize: number };
  /** `parseEnvelope` options. */
  parse: { maxDepth: number };
  /** `server_ready`'s `features`, as JSON. */
  readyFeatures: string;
  /** The constant members of `server_hello`'s payload, as JSON members (empty when a value is absent). */
  hello: { version: string; ping: string; features: string; limits: string };
}

/** An object's members as JSON text without the braces ("" when every value is undefined). */
function members(value: Record<string, unknown>): string {
  return JSON.stringify(value).slice(1, -1);
}

const sharedByEngine = new WeakMap<Engine, Shared>();

function sharedFor(engine: Engine): Shared {
  let shared = sharedByEngine.get(engine);
  if (!shared) {
    const o = engine.options;
    const rl = o.rateLimit;
    shared = {
      policy: new RateLimitPolicy({ capacity: rl.capacity, refillPerSecond: rl.refillPerSecond, abuseThreshold: rl.abuseThreshold }),
      decode: Object.freeze({ maxSize: o.maxDecompressedSize }),
      parse: Object.freeze({ maxDepth: o.maxDepth }),
      readyFeatures: JSON.stringify({
        compression: true,
        encryption: false,
        recovery: o.recovery,
        presence: o.presence,
        batching: true,
        priority_queue: true,
        msgpack: true,
      }),
      hello: {
        version: members({ server_version: o.serverVersion }),
        ping: members({ ping_interval: o.pingIntervalMs }),
        features: members({ msgpack: true, recovery: o.recovery, presence: o.presence, batching: true, priority_queue: true, cluster: engine.clustered }),
        limits: JSON.stringify({
          max_message_size: o.maxMessageSize,
          rate_limit_capacity: o.rateLimit.capacity,
          rate_limit_refill: o.rateLimit.refillPerSecond,
        }),
      },
    };
    sharedByEngine.set(engine, shared);
  }
  return shared;
}

const VARIANT_BITS = 0b011;
const CLOSED_BIT = 0b100;

/** Remote addresses seen lately, so connections from one address (a proxy, a NAT) share one string. */
const addresses = new Map<string, string>();
const MAX_SHARED_ADDRESSES = 1024;

function sharedAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const known = addresses.get(address);
  if (known !== undefined) return known;
  if (addresses.size >= MAX_SHARED_ADDRESSES) addresses.clear();
  addresses.set(address, address);
  return address;
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

/** Per-connection state most connections never need; allocated on first use. */
interface RareState {
  /** The topic ACL (`wse_topics`); null for no restriction, the common case. */
  acl: { allows(topic: string): boolean } | null;
  /** Session key once encryption is on. */
  key: SessionKey | null;
  /** Our key pair of the exchange (its public half goes into `server_hello`). */
  keyPair: EcdhKeyPair | null;
  /** Topics where this connection is present. */
  presenceTopics: Set<string> | null;
  /** Invalid frames in the last 10 s (4400 on sustained garbage). */
  garbage: AbuseTracker | null;
  /** Consecutive frames that failed to decrypt. */
  decryptFailures: number;
  /** When the last `RATE_LIMITED` error went out, ms. */
  lastRateLimitedError: number;
}

/** A connected client. */
export class Session implements HubMember, ConnectionInfo, BatchTarget {
  /** Server-assigned connection id. */
  readonly connectionId: string;
  /** Authenticated user id. */
  readonly userId: string;
  /** Verified claims. */
  readonly claims: Record<string, unknown>;
  /** Remote address, when known. */
  readonly remoteAddress?: string;
  /** Last inbound frame, ms. */
  lastSeen: number;
  /** The engine this connection belongs to. */
  readonly engine: Engine;

  readonly #socket: HostSocket;
  /** The wire variant (bits 0–1) and the closed flag (bit 2), packed: one slot in the object. */
  #bits: number;
  /** Topics held (live or being subscribed): none, one (most connections: no Set), or a Set of two or more. */
  #topics: string | Set<string> | null = null;
  /** Created with the first inbound frame and dropped again at rest (idle connections need none). */
  #limiter: InboundRateLimiter | null = null;
  #chain: Promise<void> = SETTLED;
  /** State most connections never need (encryption, presence, abuse counters), made on first use. */
  #rare: RareState | null = null;

  /** Creates the session for an accepted upgrade (identity present). */
  constructor(engine: Engine, socket: HostSocket, data: UpgradeData) {
    const identity = data.identity!;
    this.engine = engine;
    this.#socket = socket;
    this.connectionId = data.connectionId;
    this.userId = identity.userId;
    this.claims = identity.claims;
    if (identity.acl) this.#state().acl = identity.acl;
    this.remoteAddress = sharedAddress(data.remoteAddress);
    this.#bits = data.msgpack ? Variant.MSGPACK : Variant.JSON;
    this.lastSeen = Date.now();
  }

  /** Closed (or closing): nothing more is sent or handled. */
  get closed(): boolean {
    return (this.#bits & CLOSED_BIT) !== 0;
  }

  set closed(value: boolean) {
    this.#bits = value ? this.#bits | CLOSED_BIT : this.#bits & ~CLOSED_BIT;
  }

  /** JSON, zstd (negotiated in `client_hello`) or msgpack (fixed by `?format=msgpack`). */
  get #variant(): Variant {
    return (this.#bits & VARIANT_BITS) as Variant;
  }

  set #variant(variant: Variant) {
    this.#bits = (this.#bits & ~VARIANT_BITS) | variant;
  }

  /** The connection's topic ACL (`wse_topics`), null for no restriction. */
  get acl(): { allows(topic: string): boolean } | null {
    return this.#rare?.acl ?? null;
  }

  /** The subscribed topics (ConnectionInfo): a snapshot taken at the call. */
  get topics(): ReadonlySet<string> {
    return new Set(this.topicList());
  }

  /** Topics held, live or being subscribed: a snapshot taken at the call. */
  get subscriptions(): ReadonlySet<string> {
    return new Set(this.topicList());
  }

  /** Topics held, in the order they were added (a fresh array). */
  topicList(): string[] {
    const t = this.#topics;
    return t === null ? [] : typeof t === "string" ? [t] : [...t];
  }

  /** Number of topics held. */
  get topicCount(): number {
    const t = this.#topics;
    return t === null ? 0 : typeof t === "string" ? 1 : t.size;
  }

  /** True when the topic is held. */
  hasTopic(topic: string): boolean {
    const t = this.#topics;
    return t === topic || (t instanceof Set && t.has(topic));
  }

  /** Records a held topic (no-op when already held). */
  addTopic(topic: string): void {
    const t = this.#topics;
    if (t === null) this.#topics = topic;
    else if (typeof t === "string") {
      if (t !== topic) this.#topics = new Set([t, topic]);
    } else t.add(topic);
  }

  /** Forgets a held topic; false when it was not held. */
  deleteTopic(topic: string): boolean {
    const t = this.#topics;
    if (t === topic) {
      this.#topics = null;
      return true;
    }
    if (!(t instanceof Set) || !t.delete(topic)) return false;
    if (t.size === 1) this.#topics = t.values().next().value!;
    return true;
  }

  /** Forgets every held topic. */
  clearTopics(): void {
    this.#topics = null;
  }

  /** Topics where this connection is present (null until it first is: most connections never are). */
  get presenceTopics(): Set<string> | null {
    return this.#rare?.presenceTopics ?? null;
  }

  set presenceTopics(topics: Set<string> | null) {
    if (topics !== null || this.#rare) this.#state().presenceTopics = topics;
  }

  #state(): RareState {
    return (this.#rare ??= { acl: null, key: null, keyPair: null, presenceTopics: null, garbage: null, decryptFailures: 0, lastRateLimitedError: -Infinity });
  }

  /** The wire variant (HubMember). */
  get variant(): Variant {
    return this.#variant;
  }

  /** The session key once encryption is on (HubMember). */
  get key(): SessionKey | null {
    return this.#rare?.key ?? null;
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

  /**
   * Sends one encoded frame to this connection (HubMember): now, or behind the frames queued by
   * `queueFrame` while there are any, so the wire order is the order of the calls.
   */
  sendFrame(frame: Frame): void {
    const batch = this.engine.writeBatch;
    if (batch.has(this)) batch.queue(this, frame);
    else this.#write(frame);
  }

  /** Queues a frame to be written at the end of this turn, after anything queued before (HubMember). */
  queueFrame(frame: Frame): void {
    if (!this.closed) this.engine.writeBatch.queue(this, frame);
  }

  /** Writes frames in order inside one cork (one socket write on Bun) (BatchTarget). */
  writeFrames(frames: readonly Frame[]): void {
    if (this.closed) return;
    if (frames.length > 1 && this.#socket.cork) this.#socket.cork(() => this.#writeEach(frames));
    else this.#writeEach(frames);
  }

  #writeEach(frames: readonly Frame[]): void {
    // #write counts, watches backpressure, and stops once a slow consumer is closed.
    for (let i = 0; i < frames.length && !this.closed; i++) this.#write(frames[i]!);
  }

  #write(frame: Frame): void {
    if (this.closed) return;
    const status = this.#socket.send(frame);
    const m = this.engine.counters;
    m.messagesOut++;
    m.bytesOut += typeof frame === "string" ? frame.length : frame.byteLength;
    if (status === -1 || status === 0) this.engine.checkBackpressure(this);
  }

  /** Sends a message in this connection's variant, encrypted once a key exists. */
  sendOutbound(out: Outbound): void {
    if (this.closed) return;
    const key = this.#rare?.key;
    this.sendFrame(key ? out.encrypted(this.#variant, key) : out.frame(this.#variant));
  }

  /** Sends a system or direct message. */
  sendMessage(
    type: string,
    payload: unknown,
    extra?: { id?: string; category?: string; correlationId?: string; priority?: number },
  ): void {
    this.sendOutbound(new Outbound(this.engine.encodeContext, messageEnvelope(type, payload, extra)));
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

  /** Writes the queued frames, then starts the close handshake; cleanup happens when the host reports the close. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.engine.writeBatch.flushTarget(this);
    this.closed = true;
    try {
      this.#socket.close(code, reason);
    } catch {
      // already gone
    }
    this.engine.sessionClosed(this, code, reason);
  }

  /** Sends `server_ready`, joins the shared channels and runs the initial subscription. */
  start(initialTopics: string[]): void {
    const now = new Date().toISOString();
    // Written out in the key order of the 2.x object (the Python client reads it as JSON; the
    // bytes equal JSON.stringify of that object): no object tree built per connection.
    const ready =
      `{"c":"WSE","t":"server_ready","id":"${crypto.randomUUID()}","ts":"${now}","seq":1,"v":1,` +
      `"p":{"message":"Connected to WSE server","details":{"connection_id":${JSON.stringify(this.connectionId)},` +
      `"user_id":${JSON.stringify(this.userId)},"server_time":"${now}","version":1,"features":${sharedFor(this.engine).readyFeatures}}}}`;
    this.sendFrame(ready);
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
    const m = this.engine.counters;
    const o = this.engine.options;
    const size = typeof data === "string" ? textSize(data, o.maxMessageSize) : data.byteLength;
    m.messagesIn++;
    m.bytesIn += size;
    if (size > o.maxMessageSize) {
      this.invalid("MESSAGE_TOO_LARGE", `frame of ${size} bytes exceeds ${o.maxMessageSize}`);
      return;
    }
    if (!this.#admit()) return;
    let env: Envelope;
    try {
      const shared = sharedFor(this.engine);
      const key = this.#rare?.key;
      const frame = decodeFrame(data, this.engine.codec, key ? { key, maxSize: o.maxDecompressedSize } : shared.decode);
      if (frame.encrypted) this.#rare!.decryptFailures = 0;
      env = parseEnvelope(frame, shared.parse);
    } catch (error) {
      this.#decodeFailed(error);
      return;
    }
    this.#dispatch(env);
  }

  /**
   * The engine's periodic sweep (every session, at most 250 ms apart): closes the connection
   * once its token has expired, and drops per-connection state an idle connection no longer
   * needs — the rate limiter once it is at rest (a new one is made on the next message), the
   * abuse tracker once its window has passed.
   */
  compact(now: number): void {
    // Computed here rather than kept per session: a few property reads per sweep.
    if (now >= connectionDeadline(this.claims, this.engine.options.jwt)) {
      this.#expire();
      return;
    }
    if (this.#limiter?.atRest(now)) this.#limiter = null;
    const rare = this.#rare;
    if (rare?.garbage && rare.garbage.count(now) === 0) rare.garbage = null;
  }

  /** The token expired: tell the client why, then close 4401 (final for clients: they need a new token). */
  #expire(): void {
    if (this.closed) return;
    this.engine.logger.info("token expired", { connection_id: this.connectionId, user_id: this.userId });
    this.sendError("AUTH_FAILED", "token expired", false);
    this.close(CloseCode.AUTH, "token expired");
  }

  /** Rate limit; false when the message must be dropped. */
  #admit(): boolean {
    this.#limiter ??= new InboundRateLimiter(sharedFor(this.engine).policy);
    const decision = this.#limiter.check();
    if (decision.action === "allow") {
      if (decision.warning) {
        // `limit` is the bucket capacity, as upstream sends it and the Python client logs it.
        const warning = { ...decision.warning, limit: this.engine.options.rateLimit.capacity };
        this.sendMessage("rate_limit_warning", warning, { category: "WSE" });
      }
      return true;
    }
    const m = this.engine.counters;
    m.rateLimited++;
    if (decision.action === "close") {
      m.rateLimitCloses++;
      this.sendError("RATE_LIMITED", "sustained rate limit abuse", false, { retry_after: 1 }, undefined, { retry_after: 1 });
      this.close(CloseCode.RATE_ABUSE, "rate limit abuse");
      return false;
    }
    const now = Date.now();
    const rare = this.#state();
    if (now - rare.lastRateLimitedError >= 250) {
      rare.lastRateLimitedError = now;
      this.sendError("RATE_LIMITED", "rate limit exceeded; message dropped", true, {
        retry_after: decision.retryAfterSeconds,
      }, undefined, { retry_after: decision.retryAfterSeconds });
    }
    return false;
  }

  #decodeFailed(error: unknown): void {
    if (error instanceof CodecError) {
      if (error.code === "DECRYPT_FAILED") {
        this.engine.counters.decryptionFailures++;
        const rare = this.#state();
        rare.decryptFailures++;
        if (rare.decryptFailures % DECRYPTION_ERROR_EVERY === 0) {
          this.sendError("DECRYPTION_FAILED", `${rare.decryptFailures} frames failed to decrypt`, true);
        }
        this.#countGarbage();
        return;
      }
      if (error.code === "TOO_LARGE") {
        this.invalid("MESSAGE_TOO_LARGE", error.message);
        return;
      }
      this.invalid("INVALID_MESSAGE", error.message);
      return;
    }
    if (error instanceof EnvelopeError) {
      this.invalid(error.code, error.message);
      return;
    }
    this.invalid("INVALID_MESSAGE", error instanceof Error ? error.message : "undecodable frame");
  }

  /** Counts an invalid message, answers with an error, and closes 4400 on sustained garbage. */
  invalid(code: ErrorCode, message: string, cid?: string): void {
    this.engine.counters.invalidMessages++;
    this.sendError(code, message, true, undefined, cid);
    this.#countGarbage();
  }

  #countGarbage(): void {
    const rare = this.#state();
    rare.garbage ??= new AbuseTracker({ threshold: GARBAGE_CLOSE_THRESHOLD, windowMs: 10_000 });
    if (rare.garbage.record()) {
      this.sendError("INVALID_MESSAGE", "too many invalid messages", false);
      this.close(CloseCode.PROTOCOL_ABUSE, "protocol abuse");
    }
  }

  /** Runs async handlers one after another so a connection's messages keep their order. */
  #enqueue(task: () => Promise<void> | void): void {
    const next: Promise<void> = this.#chain
      .then(() => (this.closed ? undefined : task()))
      .catch((error) => {
        this.engine.logger.error("message handler failed", {
          connection_id: this.connectionId,
          error: error instanceof Error ? error.message : String(error),
        });
        this.sendError("INTERNAL_ERROR", "internal error", true);
      })
      .then(() => {
        // Idle again: drop the settled chain so an idle connection holds no promise.
        if (this.#chain === next) this.#chain = SETTLED;
      });
    this.#chain = next;
  }

  #dispatch(env: Envelope): void {
    if (!this.#control(env)) this.#enqueue(() => this.#handle(env, true));
  }

  /** Heartbeats and `client_hello`, answered at once (never queued behind slow handlers); false for anything else. */
  #control(env: Envelope): boolean {
    switch (env.t) {
      case "ping":
        this.#pong(env);
        return true;
      case "PONG":
      case "pong":
        return true;
      case "client_hello":
        this.#hello(env);
        return true;
      default:
        return false;
    }
  }

  async #handle(env: Envelope, allowBatch: boolean): Promise<void> {
    if (this.closed || this.#control(env)) return;
    switch (env.t) {
      case "subscription_update":
      case "subscription":
        await handleSubscription(this, env);
        return;
      case "sync_request":
        await snapshots(this, env);
        return;
      case "batch":
        if (!allowBatch) {
          this.invalid("INVALID_MESSAGE", "nested batch", env.cid);
          return;
        }
        await this.#batch(env);
        return;
      case "presence_update":
        await presenceUpdate(this, env);
        return;
      case "presence_request":
        await presenceRequest(this, env);
        return;
      case "publish":
        await clientPublish(this, env);
        return;
      default:
        applicationMessage(this, env);
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
    const o = this.engine.options;
    const features = isPlainObject(p.features) ? p.features : {};
    const pv = typeof p.protocol_version === "number" && Number.isFinite(p.protocol_version) ? p.protocol_version : 1;
    const protocolVersion = Math.max(1, Math.min(Math.floor(pv), 2));
    const previous = { variant: this.#variant, key: this.key };
    const msgpack = this.#variant === Variant.MSGPACK;
    // zstd, once negotiated, stays on (a later hello without it does not turn it off).
    const zstd = this.#variant === Variant.ZSTD || (features.zstd === true && !msgpack);
    let encryption = previous.key !== null;
    if (features.encryption === true && !previous.key) {
      const raw = typeof p.encryption_public_key === "string" ? decodeBase64(p.encryption_public_key) : null;
      try {
        if (!raw || raw.length !== 65 || raw[0] !== 0x04) throw new CodecError("BAD_KEY", "public key must be a 65-byte uncompressed P-256 point");
        const pair = this.engine.codec.generateKeyPair();
        const key = pair.deriveKey(raw);
        const rare = this.#state();
        rare.key = key;
        rare.keyPair = pair;
        encryption = true;
      } catch (error) {
        this.sendError("KEY_EXCHANGE_FAILED", error instanceof Error ? error.message : "key exchange failed", true);
      }
    }
    this.#variant = msgpack ? Variant.MSGPACK : zstd ? Variant.ZSTD : Variant.JSON;
    if (previous.variant !== this.#variant || previous.key !== this.key) this.#rewire(previous);
    // The text of JSON.stringify(messageEnvelope("server_hello", {...}, { category: "WSE" })), written
    // out (session.test.ts pins the equality) so no object tree is built per connection.
    const h = sharedFor(this.engine).hello;
    const keyPair = this.#rare?.keyPair;
    let payload = `"connection_id":${JSON.stringify(this.connectionId)}`;
    if (h.version) payload += `,${h.version}`;
    payload += `,"protocol_version":${protocolVersion},"server_time":"${new Date().toISOString()}"`;
    if (h.ping) payload += `,${h.ping}`;
    payload += `,"features":{"compression":true,"encryption":${encryption},${h.features},"zstd":${zstd}},"limits":${h.limits}`;
    if (encryption && keyPair) payload += `,"encryption_public_key":"${encodeBase64(keyPair.publicKey)}"`;
    this.sendFrame(`{"c":"WSE","t":"server_hello","ts":"${isoNow()}","v":1,"p":{${payload}}}`);
  }

  #rewire(previous: { variant: Variant; key: SessionKey | null }): void {
    const engine = this.engine;
    engine.hub.rewire(this, this.topicList(), previous);
    if (!previous.key) this.#socket.unsubscribe(broadcastChannel(previous.variant));
    if (this.key) engine.encryptedSessions.add(this);
    else this.#socket.subscribe(broadcastChannel(this.#variant));
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions (subscribe.ts) and batches
  // -------------------------------------------------------------------------------------------

  /** Subscribes to topics, recovering where asked, and replies (see `subscribe.ts`). */
  subscribeTopics(rawTopics: unknown[], request: SubscribeRequest): Promise<string[]> {
    return subscribeTopics(this, rawTopics, request);
  }

  /** Leaves topics and their presence. */
  unsubscribeTopics(topics: Iterable<string>): Promise<void> {
    return unsubscribeTopics(this, topics);
  }

  /** Releases every topic and presence entry; called once by the engine on close. */
  release(): Promise<void> {
    return releaseTopics(this);
  }

  async #batch(env: Envelope): Promise<void> {
    const messages = env.p.messages;
    if (!Array.isArray(messages)) {
      this.invalid("INVALID_MESSAGE", "batch needs a messages array", env.cid);
      return;
    }
    const o = this.engine.options;
    for (let i = 0; i < messages.length; i++) {
      if (this.closed) return;
      if (i > 0 && !this.#admit()) return; // each inner message costs a token; drop the rest
      let inner: Envelope;
      try {
        inner = parseEnvelope(
          { encrypted: false, compression: "none", format: "json", text: JSON.stringify(messages[i]) },
          sharedFor(this.engine).parse,
        );
      } catch (error) {
        this.#decodeFailed(error);
        continue;
      }
      await this.#handle(inner, false);
    }
  }

}
