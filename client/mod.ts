/**
 * The WSE client for browsers, Deno, Bun and Node ≥ 22.
 *
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * await using client = await connect("ws://127.0.0.1:5007/wse", {
 *   token: "<jwt>",
 *   topics: ["prices"],
 *   encryption: true,
 * });
 * client.on("discontinuity", (e) => console.warn("missed events on", e.topic));
 * for await (const event of client) {
 *   console.log(event.topic, event.offset, event.type, event.payload);
 * }
 * ```
 *
 * React bindings live in `./react.ts` (React is an optional peer; this module never imports it).
 *
 * @module
 */
export {
  type BatchMessage,
  type ClientStats,
  connect,
  type ConnectionState,
  type PresenceResult,
  type PublishAck,
  type SendOptions,
  type SubscribeOptions,
  type SubscriptionResult,
  WSEClient,
} from "./client.ts";
export { type WSEClientOptions, type OfflineQueueSetting } from "./options.ts";
export {
  WSEAuthError,
  WSECircuitBreakerError,
  WSEConnectionError,
  WSEEncryptionError,
  WSEError,
  type WSEErrorDetails,
  WSEProtocolError,
  WSERateLimitError,
  WSETimeoutError,
} from "./errors.ts";
export { type DiscontinuityPayload, MessagePriority, type RecoveryPayload, type WSEEvent } from "./events.ts";
export { backoffCeiling, DEFAULT_RECONNECT, reconnectDelay, type ReconnectMode, type ReconnectOptions } from "./reconnect.ts";
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from "./circuit-breaker.ts";
export { TokenBucket, type TokenBucketOptions } from "./rate-limiter.ts";
export { classifyQuality, type ConnectionQuality, NetworkMonitor, type NetworkDiagnostics } from "./network-monitor.ts";
export { ConnectionPool, type ConnectionPoolOptions, type LoadBalancingStrategy } from "./pool.ts";
export {
  IndexedDBQueueStorage,
  MemoryQueueStorage,
  OfflineQueue,
  type OfflineQueueOptions,
  type QueuedMessage,
  type QueueStorage,
} from "./offline-queue.ts";
