/**
 * Server configuration: every option of `createServer`, its default, and `resolveOptions`,
 * which fills in the defaults and validates the values.
 *
 * @example
 * ```ts
 * const options = resolveOptions({ port: 0, jwt: { secret: "a-secret-of-at-least-32-bytes!!!" } });
 * options.path; // "/wse"
 * ```
 * @module
 */
import type { Broker } from "./broker/types.ts";
import type { Codec } from "../wasm/api.ts";
import type { AuthConfig } from "./engine/auth.ts";
import type { Logger, ServerHooks } from "./types.ts";

/** History (recovery) limits of the memory broker and the recovery cap. */
export interface HistoryOptions {
  /** Publications kept per topic (default 256). */
  size: number;
  /** How long a publication stays recoverable, ms (default 300 000 = 5 min). */
  ttlMs: number;
  /** Global byte budget for all retained history (default 256 MiB). */
  memoryBudget: number;
  /** Most publications one topic may replay in one recovery (default 500). */
  maxRecovery: number;
}

/** Inbound per-connection token bucket. */
export interface RateLimitOptions {
  /** Bucket size: the burst a connection may send (default 1000). */
  capacity: number;
  /** Tokens added per second (default 100). */
  refillPerSecond: number;
  /** Dropped messages within 10 s that count as sustained abuse → close 4429 (default 100). */
  abuseThreshold: number;
}

/** Graceful drain (SIGTERM/SIGINT or `drain()`). */
export interface DrainOptions {
  /** Connections closed per batch (default 200). */
  batchSize: number;
  /** Pause between batches, ms; each pause gets up to 50 % random jitter (default 50). */
  intervalMs: number;
  /** Upper bound for the whole drain, ms; what is left is then closed at once (default 10 000). */
  timeoutMs: number;
  /** Close code sent to clients (default 1012 = server restart; 4300 = reconnect elsewhere). */
  closeCode: number;
}

/** Limits of `POST /api/publish/batch`. */
export interface PublishBatchOptions {
  /** Most messages in one batch; more → 413 `TOO_MANY_MESSAGES` (default 100). */
  maxMessages: number;
  /** Largest batch body in bytes; more → 413 `BODY_TOO_LARGE` (default 4 MiB). */
  maxBytes: number;
}

/** Every option `createServer` accepts; all optional, see `ResolvedOptions` for defaults. */
export interface ServerOptions {
  /** Bind address (default "0.0.0.0"). */
  host?: string;
  /** Bind port (default 5007; 0 picks a free port). */
  port?: number;
  /** WebSocket path (default "/wse"). */
  path?: string;
  /** JWT verification (`AuthConfig` of server/engine/auth.ts); absent = development mode (user id derived from the connection id). */
  jwt?: AuthConfig;
  /** Bearer key for the `/api/*` HTTP routes (a wrong or missing key → 401); absent = the API is disabled and answers 403. */
  apiKey?: string;
  /** Bearer token `GET /metrics` requires (a wrong or missing token → 401); absent = `/metrics` is open. */
  metricsToken?: string;
  /** Most per-topic series (`wse_topic_subscribers`) in `/metrics`; 0 = no topic names (default 100). */
  metricsTopicLimit?: number;
  /** Limits of `POST /api/publish/batch` (merged with the defaults). */
  publishBatch?: Partial<PublishBatchOptions>;
  /** Cookie read for the token first (default "access_token"). */
  cookieName?: string;
  /** Accept `?token=<jwt>` in the URL (default true). */
  allowQueryToken?: boolean;
  /** Allowed `Origin` values (exact match, or "*"); absent = any origin. */
  origins?: string[];
  /** Message recovery (default true). */
  recovery?: boolean;
  /** History limits (merged with the defaults). */
  history?: Partial<HistoryOptions>;
  /** Presence tracking (default true). */
  presence?: boolean;
  /** Presence data limit in serialized bytes (default 4096). */
  presenceMaxData?: number;
  /** Concurrent connections; further upgrades get HTTP 503 (default 100 000). */
  maxConnections?: number;
  /** Largest inbound frame in bytes (default 1 MiB). */
  maxMessageSize?: number;
  /** Largest decompressed inbound body in bytes (default 1 MiB). */
  maxDecompressedSize?: number;
  /** Deepest nesting of an inbound message (default 64). */
  maxDepth?: number;
  /** Topics one connection may hold (default 128). */
  maxTopicsPerConnection?: number;
  /** Outbound JSON above this many bytes goes out compressed (`C:`/`Z:`) (default 1024). */
  compressionThreshold?: number;
  /** Server ping interval, ms (default 25 000). */
  pingIntervalMs?: number;
  /** Close 4000 after this long without an inbound frame, ms (default 60 000). */
  idleTimeoutMs?: number;
  /** Inbound rate limit (merged with the defaults). */
  rateLimit?: Partial<RateLimitOptions>;
  /** Let clients publish to topics (ACL and `authorizePublish` still apply) (default false). */
  clientPublish?: boolean;
  /** Outbound bytes buffered for one connection before it is closed 4008 (default 4 MiB). */
  backpressureLimit?: number;
  /** Close slow consumers (4008) when they pass `backpressureLimit` (default true). */
  closeOnBackpressureLimit?: boolean;
  /** Drain behaviour (merged with the defaults). */
  drain?: Partial<DrainOptions>;
  /** `id` deduplication window of `publish`, ms (default 300 000). */
  idempotencyTtlMs?: number;
  /** Fan-out, history and presence backend (default: a new memory broker). */
  broker?: Broker;
  /** Application hooks. */
  hooks?: ServerHooks;
  /** Structured logger (default: JSON lines on stderr at level "info"). */
  logger?: Logger;
  /** Codec for compression and encryption (default: the project's default codec). */
  codec?: Codec;
  /** Version string announced in `server_hello` (default "wse-ts/0.1.0"). */
  serverVersion?: string;
}

/** `ServerOptions` with every default applied (broker, hooks, logger and codec stay optional). */
export interface ResolvedOptions {
  host: string;
  port: number;
  path: string;
  jwt: AuthConfig | undefined;
  apiKey: string | undefined;
  metricsToken: string | undefined;
  metricsTopicLimit: number;
  publishBatch: PublishBatchOptions;
  cookieName: string;
  allowQueryToken: boolean;
  origins: string[] | undefined;
  recovery: boolean;
  history: HistoryOptions;
  presence: boolean;
  presenceMaxData: number;
  maxConnections: number;
  maxMessageSize: number;
  maxDecompressedSize: number;
  maxDepth: number;
  maxTopicsPerConnection: number;
  compressionThreshold: number;
  pingIntervalMs: number;
  idleTimeoutMs: number;
  rateLimit: RateLimitOptions;
  clientPublish: boolean;
  backpressureLimit: number;
  closeOnBackpressureLimit: boolean;
  drain: DrainOptions;
  idempotencyTtlMs: number;
  broker: Broker | undefined;
  hooks: ServerHooks;
  logger: Logger | undefined;
  codec: Codec | undefined;
  serverVersion: string;
}

/** The defaults, for documentation (`--help`) and tests. */
export const DEFAULTS = {
  host: "0.0.0.0",
  port: 5007,
  path: "/wse",
  metricsTopicLimit: 100,
  publishBatch: { maxMessages: 100, maxBytes: 4 * 1024 * 1024 },
  cookieName: "access_token",
  allowQueryToken: true,
  recovery: true,
  history: { size: 256, ttlMs: 300_000, memoryBudget: 256 * 1024 * 1024, maxRecovery: 500 },
  presence: true,
  presenceMaxData: 4096,
  maxConnections: 100_000,
  maxMessageSize: 1024 * 1024,
  maxDecompressedSize: 1024 * 1024,
  maxDepth: 64,
  maxTopicsPerConnection: 128,
  compressionThreshold: 1024,
  pingIntervalMs: 25_000,
  idleTimeoutMs: 60_000,
  rateLimit: { capacity: 1000, refillPerSecond: 100, abuseThreshold: 100 },
  clientPublish: false,
  backpressureLimit: 4 * 1024 * 1024,
  closeOnBackpressureLimit: true,
  drain: { batchSize: 200, intervalMs: 50, timeoutMs: 10_000, closeCode: 1012 },
  idempotencyTtlMs: 300_000,
  serverVersion: "wse-ts/0.1.0",
} as const;

function positiveInt(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) || !Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`option ${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${value}`);
  }
  return value;
}

/** Fills in every default and validates ranges; throws `TypeError` naming the bad option. */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  const history = { ...DEFAULTS.history, ...options.history };
  const rateLimit = { ...DEFAULTS.rateLimit, ...options.rateLimit };
  const drain = { ...DEFAULTS.drain, ...options.drain };
  const publishBatch = { ...DEFAULTS.publishBatch, ...options.publishBatch };
  const path = options.path ?? DEFAULTS.path;
  if (!path.startsWith("/")) throw new TypeError(`option path must start with "/", got ${path}`);
  const port = options.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`option port out of range: ${port}`);
  const resolved: ResolvedOptions = {
    host: options.host ?? DEFAULTS.host,
    port,
    path,
    jwt: options.jwt,
    apiKey: options.apiKey,
    metricsToken: options.metricsToken,
    metricsTopicLimit: positiveInt("metricsTopicLimit", options.metricsTopicLimit ?? DEFAULTS.metricsTopicLimit, true),
    publishBatch: {
      maxMessages: positiveInt("publishBatch.maxMessages", publishBatch.maxMessages),
      maxBytes: positiveInt("publishBatch.maxBytes", publishBatch.maxBytes),
    },
    cookieName: options.cookieName ?? DEFAULTS.cookieName,
    allowQueryToken: options.allowQueryToken ?? DEFAULTS.allowQueryToken,
    origins: options.origins,
    recovery: options.recovery ?? DEFAULTS.recovery,
    history: {
      size: positiveInt("history.size", history.size, true),
      ttlMs: positiveInt("history.ttlMs", history.ttlMs),
      memoryBudget: positiveInt("history.memoryBudget", history.memoryBudget, true),
      maxRecovery: positiveInt("history.maxRecovery", history.maxRecovery, true),
    },
    presence: options.presence ?? DEFAULTS.presence,
    presenceMaxData: positiveInt("presenceMaxData", options.presenceMaxData ?? DEFAULTS.presenceMaxData),
    maxConnections: positiveInt("maxConnections", options.maxConnections ?? DEFAULTS.maxConnections),
    maxMessageSize: positiveInt("maxMessageSize", options.maxMessageSize ?? DEFAULTS.maxMessageSize),
    maxDecompressedSize: positiveInt("maxDecompressedSize", options.maxDecompressedSize ?? DEFAULTS.maxDecompressedSize),
    maxDepth: positiveInt("maxDepth", options.maxDepth ?? DEFAULTS.maxDepth),
    maxTopicsPerConnection: positiveInt(
      "maxTopicsPerConnection",
      options.maxTopicsPerConnection ?? DEFAULTS.maxTopicsPerConnection,
    ),
    compressionThreshold: positiveInt(
      "compressionThreshold",
      options.compressionThreshold ?? DEFAULTS.compressionThreshold,
      true,
    ),
    pingIntervalMs: positiveInt("pingIntervalMs", options.pingIntervalMs ?? DEFAULTS.pingIntervalMs),
    idleTimeoutMs: positiveInt("idleTimeoutMs", options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs),
    rateLimit: {
      capacity: positiveInt("rateLimit.capacity", rateLimit.capacity),
      refillPerSecond: positiveInt("rateLimit.refillPerSecond", rateLimit.refillPerSecond, true),
      abuseThreshold: positiveInt("rateLimit.abuseThreshold", rateLimit.abuseThreshold),
    },
    clientPublish: options.clientPublish ?? DEFAULTS.clientPublish,
    backpressureLimit: positiveInt("backpressureLimit", options.backpressureLimit ?? DEFAULTS.backpressureLimit),
    closeOnBackpressureLimit: options.closeOnBackpressureLimit ?? DEFAULTS.closeOnBackpressureLimit,
    drain: {
      batchSize: positiveInt("drain.batchSize", drain.batchSize),
      intervalMs: positiveInt("drain.intervalMs", drain.intervalMs, true),
      timeoutMs: positiveInt("drain.timeoutMs", drain.timeoutMs),
      closeCode: positiveInt("drain.closeCode", drain.closeCode),
    },
    idempotencyTtlMs: positiveInt("idempotencyTtlMs", options.idempotencyTtlMs ?? DEFAULTS.idempotencyTtlMs),
    broker: options.broker,
    hooks: options.hooks ?? {},
    logger: options.logger,
    codec: options.codec,
    serverVersion: options.serverVersion ?? DEFAULTS.serverVersion,
  };
  return resolved;
}
