/**
 * Public types of the WSE server: the embedding API (`WseServer`), application hooks, and the
 * contracts between the engine and the auth / ACL / rate-limit modules (`server/engine/auth.ts`,
 * `token.ts`, `acl.ts`, `rate-limit.ts`). Types only; no runtime code lives here.
 *
 * @module
 */
import type { HistoryResult, PresenceMember, StreamTop } from "./broker/types.ts";

export type { ResolvedOptions, ServerOptions } from "./options.ts";

// ---------------------------------------------------------------------------------------------
// Auth contract (implemented in server/engine/auth.ts, token.ts, acl.ts, rate-limit.ts)
// ---------------------------------------------------------------------------------------------

/** JWT algorithms accepted (PROTOCOL.md §1). */
export type JwtAlgorithm = "HS256" | "HS384" | "HS512" | "RS256" | "ES256" | "EdDSA";

/** JWT verification settings. */
export interface JwtConfig {
  /** HMAC secret (≥ 32 bytes) for HS256/HS384/HS512. */
  secret?: string | Uint8Array;
  /** A previous HMAC secret still accepted during rotation. */
  previousSecret?: string | Uint8Array;
  /** PEM public key (SPKI) for RS256 / ES256 / EdDSA. */
  publicKey?: string;
  /** A JWKS URL; keys are fetched, cached and refreshed on an unknown `kid`. */
  jwksUrl?: string;
  /** Allowed algorithm(s) (default: HS256 with a secret, RS256 with a public key, any asymmetric with JWKS). */
  algorithms?: JwtAlgorithm[];
  /** Expected `iss`, checked when set. */
  issuer?: string;
  /** Expected `aud`, checked when set. */
  audience?: string | string[];
  /** Require a `kid` header (and, when given, one of these values). */
  requireKid?: boolean | string[];
  /** Clock leeway for `exp`/`nbf`, seconds (default 30). */
  leewaySeconds?: number;
  /** Tokens longer than this are rejected unparsed (default 8192). */
  maxTokenBytes?: number;
}

/** A compiled `wse_topics` ACL (PROTOCOL.md §1): `*`/`?` globs, deny wins, empty allow = all. */
export interface TopicAcl {
  /** True when the topic may be subscribed, recovered or published to. */
  allows(topic: string): boolean;
}

/** What a successful authentication yields. */
export interface AuthResult {
  /** The user id (JWT `sub`). */
  userId: string;
  /** All verified claims. */
  claims: Record<string, unknown>;
  /** The connection's topic ACL from `wse_topics`, or null for no restriction. */
  acl: TopicAcl | null;
}

/** Auth failure codes sent in the error frame before close 4401. */
export type AuthErrorCode = "AUTH_REQUIRED" | "AUTH_FAILED";

/**
 * The shape of the `AuthError` class exported by `server/engine/auth.ts`; the engine recognises
 * any thrown object with a `code` of `AUTH_REQUIRED` / `AUTH_FAILED`.
 */
export interface AuthErrorLike extends Error {
  /** Why authentication failed. */
  readonly code: AuthErrorCode;
}

/** `server/engine/auth.ts`: `createAuthenticator(config)`. Throws `AuthError` on failure. */
export type Authenticator = (token: string | null) => Promise<AuthResult>;

/** Signature of `createAuthenticator` in `server/engine/auth.ts`. */
export type CreateAuthenticator = (config: JwtConfig | undefined) => Authenticator;

/** Options of `extractToken` in `server/engine/token.ts`. */
export interface ExtractTokenOptions {
  /** Cookie name read first (default "access_token"). */
  cookieName: string;
  /** Whether `?token=` is honoured. */
  allowQuery: boolean;
}

/** Signature of `extractToken(req, options)`: cookie, then `Authorization: Bearer`, then query. */
export type ExtractToken = (req: Request, options: ExtractTokenOptions) => string | null;

/** Signature of `compileAcl(claim)` in `server/engine/acl.ts`; null/undefined claim → null. Throws on a malformed claim. */
export type CompileAcl = (claim: unknown) => TopicAcl | null;

/** Result of one `TokenBucket.take()`. */
export interface TakeResult {
  /** The message may be processed. */
  allowed: boolean;
  /** Tokens left after this take (floored). */
  remaining: number;
  /** Below 20 % left (a warning is due, subject to the once-a-second limit kept by the caller). */
  warn: boolean;
  /** When rejected, ms until one token is back; otherwise 0. */
  retryAfterMs: number;
}

/** The token bucket class exported by `server/engine/rate-limit.ts`. */
export interface TokenBucketLike {
  /** Takes one token at time `now` (ms, default `Date.now()`). */
  take(now?: number): TakeResult;
  /** Bucket size. */
  readonly capacity: number;
  /** Tokens per second. */
  readonly refillPerSecond: number;
}

/** Constructor signature: `new TokenBucket(capacity, refillPerSecond)`. */
export type TokenBucketConstructor = new (capacity: number, refillPerSecond: number) => TokenBucketLike;

// ---------------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------------

/** A structured logger; `fields` are merged into one JSON log line. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

// ---------------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------------

/** What hooks learn about a connection. */
export interface ConnectionInfo {
  /** Server-assigned connection id. */
  readonly connectionId: string;
  /** Authenticated user id (dev mode: derived from the connection id). */
  readonly userId: string;
  /** Verified JWT claims (empty in dev mode). */
  readonly claims: Record<string, unknown>;
  /** Topics currently subscribed. */
  readonly topics: ReadonlySet<string>;
  /** Remote address, when the host knows it. */
  readonly remoteAddress?: string;
}

/** An application message from a client (any `t` the protocol does not handle itself). */
export interface InboundMessage {
  /** `t`. */
  type: string;
  /** `p` (an empty object when absent). */
  payload: unknown;
  /** `id`, when sent. */
  id?: string;
  /** `cid`, when sent. */
  correlationId?: string;
  /** `c`, when sent. */
  category?: string;
}

/** A snapshot the application returns for one topic. */
export interface SnapshotResult {
  /** Message type (default "snapshot"). */
  type?: string;
  /** Payload sent as `p`. */
  payload: unknown;
}

/** Application hooks; every one is optional and may be async. */
export interface ServerHooks {
  /**
   * Replaces JWT verification: return the identity or throw an `AuthError`-like
   * (`code: "AUTH_REQUIRED" | "AUTH_FAILED"`) to close 4401.
   */
  authenticate?: (request: Request, token: string | null) => AuthResult | Promise<AuthResult>;
  /** Called per topic after the ACL allowed it; false → the topic fails with "forbidden". */
  authorizeSubscribe?: (conn: ConnectionInfo, topic: string) => boolean | Promise<boolean>;
  /** Called per client publish after the ACL allowed it; false → error FORBIDDEN. */
  authorizePublish?: (
    conn: ConnectionInfo,
    topic: string,
    type: string,
    payload: unknown,
  ) => boolean | Promise<boolean>;
  /** After the handshake frame (`server_ready`) went out. */
  onConnect?: (conn: ConnectionInfo) => void | Promise<void>;
  /** Every application message. */
  onMessage?: (conn: ConnectionInfo, message: InboundMessage) => void | Promise<void>;
  /** After the connection closed and its subscriptions/presence were released. */
  onDisconnect?: (conn: ConnectionInfo, code: number, reason: string) => void | Promise<void>;
  /**
   * Snapshot provider for `sync_request`: a `SnapshotResult`, or a bare payload (sent as
   * `t:"snapshot"`, `p:{topic, data}`), or null/undefined for no snapshot of that topic.
   */
  snapshot?: (conn: ConnectionInfo, topic: string) => unknown | Promise<unknown>;
}

// ---------------------------------------------------------------------------------------------
// The embedding API
// ---------------------------------------------------------------------------------------------

/** Options of `WseServer.publish`. */
export interface ServerPublishOptions {
  /** Message id and idempotency key (a repeat within 5 min returns the first position). */
  id?: string;
  /** Priority `pri` (10, 8, 5, 3, 1). */
  priority?: number;
  /** Correlation id `cid`. */
  correlationId?: string;
}

/** Options of `WseServer.disconnect`: by user (all its connections) or by connection. */
export interface DisconnectOptions {
  userId?: string;
  connectionId?: string;
  /** Close code (default 1000). */
  code?: number;
  /** Close reason (default "disconnected by server"). */
  reason?: string;
}

/** Options of `WseServer.history`. */
export interface HistoryQuery {
  /** When given and different from the stream's epoch, no publications are returned. */
  epoch?: string;
  /** Return publications with offset > since (default -1 = all retained). */
  since?: number;
  /** At most this many (default the recovery cap). */
  limit?: number;
}

/** `WseServer.history` result: the broker's answer plus whether the epoch matched. */
export interface HistoryAnswer extends HistoryResult {
  /** False when `epoch` was given and differs from the current one (publications then empty). */
  epochMatches: boolean;
}

/** A presence summary (`presence` event / `GET /api/presence/:topic`). */
export interface PresenceSummary {
  topic: string;
  /** user id → data and connection count. */
  members: Record<string, { data: Record<string, unknown>; connections: number }>;
  num_users: number;
  num_connections: number;
}

/** Counters and gauges for `/metrics`; server-edge formats them as Prometheus text. */
export interface ServerMetrics {
  /** Open WebSocket connections (gauge). */
  connections: number;
  /** Connections accepted since start. */
  connectionsTotal: number;
  /** Inbound frames. */
  messagesIn: number;
  /** Outbound frames (fan-out counts one per receiving connection where known; native fan-out counts per variant frame). */
  messagesOut: number;
  /** Inbound bytes. */
  bytesIn: number;
  /** Outbound bytes (same counting rule as `messagesOut`). */
  bytesOut: number;
  /** Publications accepted (server API, HTTP and clients). */
  publications: number;
  /** Authentication failures (4401). */
  authFailures: number;
  /** Messages rejected by the rate limit. */
  rateLimited: number;
  /** Connections closed 4429. */
  rateLimitCloses: number;
  /** Connections closed 4008. */
  slowConsumerCloses: number;
  /** Topics recovered. */
  recoveryHits: number;
  /** Topics whose recovery failed. */
  recoveryMisses: number;
  /** Inbound frames rejected as invalid. */
  invalidMessages: number;
  /** Inbound `E:` frames that failed to decrypt. */
  decryptionFailures: number;
  /** Subscribers per topic, the largest `topicLimit` topics only (default 100). */
  topics: Record<string, number>;
  /** Distinct topics with at least one local subscriber. */
  topicCount: number;
  /** Broker healthy. */
  brokerHealthy: boolean;
  /** Draining (no new connections). */
  draining: boolean;
  /** Seconds since start. */
  uptimeSeconds: number;
}

/** `WseServer.stats()`: a lighter summary. */
export interface ServerStats {
  connections: number;
  users: number;
  topics: number;
  publications: number;
  messagesIn: number;
  messagesOut: number;
  uptimeSeconds: number;
  draining: boolean;
}

/** Options of `WseServer.drain`. */
export interface DrainCallOptions {
  /** Close code (default the configured `drain.closeCode`, 1012). */
  code?: number;
  /** Overrides `drain.timeoutMs`. */
  timeoutMs?: number;
}

/** Minimal server handle passed to the websocket handler set (Bun's `Server`). */
export interface ListenInfo {
  /** The bound host. */
  hostname: string;
  /** The bound port (useful with port 0). */
  port: number;
  /** `ws://host:port/path`. */
  url: string;
}

/**
 * A WSE server. Standalone: `await server.listen()`. Embedded in an existing `Bun.serve`:
 * pass `fetch: (req, srv) => server.fetch(req, srv)` (it upgrades on `path` and routes the rest
 * to the HTTP app) and `websocket: server.websocket`, then `server.attach(srv)`.
 */
export interface WseServer {
  /** Publishes to a topic's stream and fans out; resolves with the assigned position. */
  publish(topic: string, type: string, payload: unknown, options?: ServerPublishOptions): Promise<StreamTop>;
  /** Sends one message to one local connection; false when it is not connected here. */
  send(connectionId: string, type: string, payload: unknown): boolean;
  /** Sends a topic-less message to every connection (every node with a shared broker). */
  broadcast(type: string, payload: unknown): Promise<void>;
  /** Subscribes a local connection to topics server-side (no ACL/hook check); returns the topics added. */
  subscribe(connectionId: string, topics: string[]): Promise<string[]>;
  /** Unsubscribes a local connection from topics (all when omitted). */
  unsubscribe(connectionId: string, topics?: string[]): Promise<void>;
  /** Closes connections of a user or one connection, on every node; resolves with how many closed here. */
  disconnect(options: DisconnectOptions): Promise<number>;
  /** Presence of a topic. */
  presence(topic: string): Promise<PresenceSummary>;
  /** Raw presence members of a topic. */
  presenceMembers(topic: string): Promise<PresenceMember[]>;
  /** Retained history of a topic. */
  history(topic: string, query?: HistoryQuery): Promise<HistoryAnswer>;
  /** Summary numbers. */
  stats(): ServerStats;
  /** Counters for `/metrics`. */
  metrics(): ServerMetrics;
  /** Stops accepting, closes every connection (1012 by default) in batches with jitter, bounded in time. */
  drain(options?: DrainCallOptions): Promise<void>;
  /** Drains (when connections are open), stops listening and closes the broker. */
  stop(): Promise<void>;
  /** Starts a standalone `Bun.serve` on host/port; resolves with the bound address. */
  listen(): Promise<ListenInfo>;
  /** Request handler for embedding (WebSocket upgrade on `path`, HTTP app otherwise). */
  fetch(request: Request, server: unknown): Response | undefined | Promise<Response | undefined>;
  /** Bun `websocket` handler set for embedding. */
  readonly websocket: unknown;
  /** Tells an embedded server which `Bun.serve` instance it runs in (needed for native fan-out). */
  attach(server: unknown): void;
  /** False while the broker is unreachable or the server drains. */
  readonly healthy: boolean;
  /** True once `drain()` began. */
  readonly draining: boolean;
  /** The resolved options. */
  readonly options: import("./options.ts").ResolvedOptions;
}

/**
 * Contract of `server/http/app.ts`: `createHttpApp(server, options)` returns an app whose `fetch`
 * serves `/health`, `/metrics` and `/api/*` (publish routes on a fast path, the rest through hono).
 */
export type CreateHttpApp = (
  server: WseServer,
  options: import("./options.ts").ResolvedOptions,
) => { fetch: (request: Request, ...rest: unknown[]) => Response | Promise<Response> };
