/**
 * `WSEClient` options, their defaults and validation.
 *
 * @module
 */
import type { Codec, DedupWindow, TopicSequencer } from "../wasm/api.ts";
import type { CircuitBreakerOptions } from "./circuit-breaker.ts";
import type { OfflineQueueOptions, QueueStorage } from "./offline-queue.ts";
import type { LoadBalancingStrategy } from "./pool.ts";
import type { TokenBucketOptions } from "./rate-limiter.ts";
import { type ReconnectOptions, resolveReconnectOptions } from "./reconnect.ts";

/** Offline queue settings: `true` (memory, or IndexedDB in browsers), `false`, or details. */
export type OfflineQueueSetting =
  | boolean
  | (Omit<OfflineQueueOptions, "storage"> & { storage?: QueueStorage | "memory" | "indexeddb" });

/** Everything `connect(url, options)` accepts. Times are in milliseconds. */
export interface WSEClientOptions {
  /** JWT for the handshake: `Authorization: Bearer` where the runtime allows, else `?token=`. */
  token?: string;
  /** Topics to subscribe after connecting (and after every reconnect, with recovery). */
  topics?: string[];
  /** Reconnect policy, or `false` to never reconnect. */
  reconnect?: Partial<ReconnectOptions> | boolean;
  /** Extra handshake headers (Bun, Deno, Node; browsers cannot send them). */
  headers?: Record<string, string>;
  /** Events buffered for `recv()` / `for await` (default 1000; the oldest is dropped when full). */
  queueSize?: number;
  /** End-to-end encryption (ECDH P-256 + AES-256-GCM). Required once asked for (default false). */
  encryption?: boolean;
  /** Ask the server for `json` (default) or `msgpack` event frames. */
  format?: "json" | "msgpack";
  /** Accept zstd-compressed (`Z:`) frames from the server (default true). */
  zstd?: boolean;
  /** Several server URLs; the client balances and fails over between them. */
  endpoints?: string[];
  /** How to pick among `endpoints` (default `weighted-random`). */
  loadBalancing?: LoadBalancingStrategy;
  /** Queue messages sent while disconnected and flush them after reconnecting (default true). */
  offlineQueue?: OfflineQueueSetting;
  /** Presence data sent with every subscription (enables presence tracking for this user). */
  presence?: Record<string, unknown>;
  /** Client heartbeat period (default 15000). */
  heartbeatInterval?: number;
  /** Reconnect after this long without any frame from the server (default 40000). */
  idleTimeout?: number;
  /** Opening one socket may take this long (default 10000). */
  connectTimeout?: number;
  /** From socket open to `server_hello` (default 10000). */
  handshakeTimeout?: number;
  /** Waiting for a reply (subscribe, publish ack, presence, snapshot) (default 10000). */
  requestTimeout?: number;
  /** `connect()` keeps retrying per the reconnect policy instead of failing on the first error. */
  retryInitialConnect?: boolean;
  /** Circuit breaker thresholds (default 5 failures, 60 s, 3 successes). */
  circuitBreaker?: CircuitBreakerOptions;
  /** Client token bucket (default 1000 tokens, 100/s). */
  rateLimit?: TokenBucketOptions;
  /** Send the token as `?token=` even where headers work. */
  tokenInQuery?: boolean;
  /** Codec backend (default: the WASM codec, the same in every runtime). */
  codec?: Codec;
  /** Per-topic sequencer (default: the WASM sequencer). */
  sequencer?: TopicSequencer;
  /** Message-id dedup window (default: the WASM window, 10 000 ids). */
  dedup?: DedupWindow;
  /** Reported in `client_hello` (default `wse-ts/0.1.0`). */
  clientVersion?: string;
}

/** Options after defaults, as the client uses them. */
export interface ResolvedOptions {
  token?: string;
  topics: string[];
  reconnect: ReconnectOptions;
  headers: Record<string, string>;
  queueSize: number;
  encryption: boolean;
  format: "json" | "msgpack";
  zstd: boolean;
  endpoints: string[];
  loadBalancing: LoadBalancingStrategy;
  offlineQueue: OfflineQueueSetting;
  presence?: Record<string, unknown>;
  heartbeatInterval: number;
  idleTimeout: number;
  connectTimeout: number;
  handshakeTimeout: number;
  requestTimeout: number;
  retryInitialConnect: boolean;
  circuitBreaker: CircuitBreakerOptions;
  rateLimit: TokenBucketOptions;
  tokenInQuery: boolean;
  clientVersion: string;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) throw new RangeError(`${name} must be a number > 0, got ${String(value)}`);
  return value;
}

/** Control characters a topic must not contain: C0, DEL and C1 (the server's rule, PROTOCOL.md §3). */
// deno-lint-ignore no-control-regex
const TOPIC_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Validates a topic name exactly as the server does (1–256 bytes of UTF-8, no C0/DEL/C1 control
 * characters) and returns it; throws `TypeError`/`RangeError` otherwise.
 */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== "string" || topic.length === 0) throw new TypeError("a topic must be a non-empty string");
  if (new TextEncoder().encode(topic).length > 256) throw new RangeError(`topic longer than 256 bytes: ${topic.slice(0, 40)}…`);
  if (TOPIC_CONTROL.test(topic)) throw new RangeError("a topic must not contain control characters");
  return topic;
}

/** Fills in defaults and rejects bad values with a clear `TypeError`/`RangeError`. */
export function resolveOptions(url: string | undefined, options: WSEClientOptions): ResolvedOptions {
  const endpoints = [...(options.endpoints ?? [])];
  if (url !== undefined && !endpoints.includes(url)) endpoints.unshift(url);
  if (endpoints.length === 0) throw new TypeError("connect() needs a url or endpoints");
  for (const e of endpoints) if (typeof e !== "string" || e.length === 0) throw new TypeError("every endpoint must be a URL string");
  if (options.format !== undefined && options.format !== "json" && options.format !== "msgpack") {
    throw new RangeError(`format must be "json" or "msgpack", got ${String(options.format)}`);
  }
  if (options.token !== undefined && typeof options.token !== "string") throw new TypeError("token must be a string");
  return {
    token: options.token,
    topics: (options.topics ?? []).map(checkTopic),
    reconnect: resolveReconnectOptions(options.reconnect),
    headers: { ...(options.headers ?? {}) },
    queueSize: positive("queueSize", options.queueSize, 1000),
    encryption: options.encryption ?? false,
    format: options.format ?? "json",
    zstd: options.zstd ?? true,
    endpoints,
    loadBalancing: options.loadBalancing ?? "weighted-random",
    offlineQueue: options.offlineQueue ?? true,
    presence: options.presence,
    heartbeatInterval: positive("heartbeatInterval", options.heartbeatInterval, 15_000),
    idleTimeout: positive("idleTimeout", options.idleTimeout, 40_000),
    connectTimeout: positive("connectTimeout", options.connectTimeout, 10_000),
    handshakeTimeout: positive("handshakeTimeout", options.handshakeTimeout, 10_000),
    requestTimeout: positive("requestTimeout", options.requestTimeout, 10_000),
    retryInitialConnect: options.retryInitialConnect ?? false,
    circuitBreaker: options.circuitBreaker ?? {},
    rateLimit: options.rateLimit ?? {},
    tokenInQuery: options.tokenInQuery ?? false,
    clientVersion: options.clientVersion ?? "wse-ts/0.1.0",
  };
}
