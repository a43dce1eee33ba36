/**
 * The Redis broker: several server nodes share one Redis and behave as one service.
 *
 * - Fan-out over Redis pub/sub; a node SUBSCRIBEs only to topics it has local interest in.
 *   Interest is a set: `subscribe` of a topic already subscribed is harmless and still waits
 *   for Redis to confirm it; one `unsubscribe` ends it.
 * - Topic streams (epoch + offsets) and history in Redis; one Lua script per publication checks
 *   idempotency, assigns the offset, appends, trims, sets TTLs and PUBLISHes, so offsets are
 *   contiguous across nodes and every node sees publications in offset order.
 * - `history` and `top` of a topic with local interest resolve only after every publication up
 *   to the returned top has reached the handler (a PING barrier on the subscriber connection),
 *   so a recovery merge that buffers live publications and drops those ≤ top is exact.
 * - Presence in Redis with per-connection TTLs refreshed by the owning node; join/leave once
 *   per user across all nodes; a dead node's members expire and leave.
 * - While Redis is unreachable `healthy` is false and commands reject with
 *   `BrokerUnavailableError`; both connections reconnect with jittered exponential backoff and
 *   the node's channels and presence members are restored once Redis is back.
 *
 * ```ts
 * import { createRedisBroker } from "./server/broker/redis.ts";
 * const broker = createRedisBroker("redis://127.0.0.1:6379", { prefix: "wse:" });
 * broker.setHandler((event) => console.log(event));
 * await broker.subscribe(["chat"]);
 * await broker.publish("chat", { type: "message", payload: { text: "hi" }, id: crypto.randomUUID(), ts: new Date().toISOString() });
 * ```
 *
 * Not for Redis Cluster (the presence sweep and keys of one topic are not hash-tagged).
 *
 * @module
 */
import { Redis, type RedisOptions } from "ioredis";
import type {
  Broker,
  BrokerEvent,
  BrokerHandler,
  HistoryResult,
  PresenceMember,
  Publication,
  PublicationData,
  PublishOptions,
  StreamTop,
} from "./types.ts";
import { BrokerUnavailableError, isConnectionFailure } from "./redis-errors.ts";
import { RedisHistory } from "./redis-history.ts";
import { RedisKeys } from "./redis-keys.ts";
import { decodeBroadcastMessage, decodeControlMessage, decodeTopicMessage } from "./redis-messages.ts";
import { RedisPresence } from "./redis-presence.ts";
import { RedisSubscriptions } from "./redis-subscriptions.ts";

export { BrokerUnavailableError, isBrokerUnavailable } from "./redis-errors.ts";

/** Minimal logger the broker reports connection changes to. */
export interface RedisBrokerLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Options of `createRedisBroker`; every one has a default. */
export interface RedisBrokerOptions {
  /** Prefix of every key and channel (default "wse:"). */
  prefix?: string;
  /** Publications retained per topic (default 256; 0 = offsets only, no history). */
  historySize?: number;
  /** How long a publication stays recoverable, ms (default 300 000). */
  historyTtlMs?: number;
  /** How long a topic's epoch and offset outlive its last publication, ms (default max(24 h, 2 × historyTtlMs)). */
  metaTtlMs?: number;
  /** A presence member not refreshed for this long is gone, ms (default 30 000). */
  presenceTtlMs?: number;
  /** How often the node refreshes its members and sweeps expired ones, ms (default presenceTtlMs / 3). */
  presenceRefreshMs?: number;
  /** A Redis command not answered within this long fails, ms (default 5 000). */
  commandTimeoutMs?: number;
  /** Connect timeout, ms (default 5 000). */
  connectTimeoutMs?: number;
  /** Upper bound of the reconnect backoff, ms (default 2 000). */
  reconnectMaxDelayMs?: number;
  /** Where connection changes are reported (default: console). */
  logger?: RedisBrokerLogger;
}

const consoleLogger: RedisBrokerLogger = {
  info: (message, fields) => console.info(JSON.stringify({ level: "info", msg: message, ...fields })),
  warn: (message, fields) => console.warn(JSON.stringify({ level: "warn", msg: message, ...fields })),
};

function positiveInteger(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < 0 || (!allowZero && result === 0)) {
    throw new TypeError(`Redis broker: ${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${value}`);
  }
  return result;
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new TypeError(`Redis broker: topic must be a non-empty string, got ${JSON.stringify(topic)}`);
  }
}

function checkData(data: unknown, what: string): asserts data is Record<string, unknown> {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new TypeError(`Redis broker: ${what} must be an object`);
  }
}

function checkConnectionId(connectionId: unknown): asserts connectionId is string {
  if (typeof connectionId !== "string" || connectionId.length === 0) {
    throw new TypeError(`Redis broker: connectionId must be a non-empty string, got ${JSON.stringify(connectionId)}`);
  }
}

/** A `Broker` backed by Redis; see the module documentation. */
export class RedisBroker implements Broker {
  private readonly keys: RedisKeys;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly subscriptions: RedisSubscriptions;
  private readonly streams: RedisHistory;
  private readonly members: RedisPresence;
  private readonly logger: RedisBrokerLogger;
  private readonly timer: ReturnType<typeof setInterval>;
  private handler: BrokerHandler | null = null;
  private closed = false;
  private wasHealthy = false;
  private maintaining = false;
  private lastError = "";
  /** A command timed out and none has succeeded since: Redis is connected but not answering. */
  private stalled = false;

  /** Connects to `url` (`redis://` or `rediss://`) in the background; see `createRedisBroker`. */
  constructor(url: string, options: RedisBrokerOptions = {}) {
    if (typeof url !== "string" || !/^rediss?:\/\//.test(url)) {
      throw new TypeError(`Redis broker: URL must start with redis:// or rediss://, got ${JSON.stringify(url)}`);
    }
    const historyTtlMs = positiveInteger("historyTtlMs", options.historyTtlMs, 300_000);
    const presenceTtlMs = positiveInteger("presenceTtlMs", options.presenceTtlMs, 30_000);
    const limits = {
      size: positiveInteger("historySize", options.historySize, 256, true),
      ttlMs: historyTtlMs,
      metaTtlMs: positiveInteger("metaTtlMs", options.metaTtlMs, Math.max(86_400_000, 2 * historyTtlMs)),
    };
    if (limits.metaTtlMs <= historyTtlMs) {
      throw new TypeError("Redis broker: metaTtlMs must be longer than historyTtlMs");
    }
    const refreshMs = positiveInteger("presenceRefreshMs", options.presenceRefreshMs, Math.max(1, Math.floor(presenceTtlMs / 3)));
    if (refreshMs >= presenceTtlMs) throw new TypeError("Redis broker: presenceRefreshMs must be shorter than presenceTtlMs");
    const maxDelay = positiveInteger("reconnectMaxDelayMs", options.reconnectMaxDelayMs, 2_000);
    const connectionOptions: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      enableReadyCheck: true,
      commandTimeout: positiveInteger("commandTimeoutMs", options.commandTimeoutMs, 5_000),
      connectTimeout: positiveInteger("connectTimeoutMs", options.connectTimeoutMs, 5_000),
      // Full jitter over an exponential ceiling (100 ms, 200 ms, ... up to maxDelay), plus 10 ms.
      retryStrategy: (times) => Math.round(Math.random() * Math.min(maxDelay, 50 * 2 ** Math.min(times, 16))) + 10,
    };
    this.logger = options.logger ?? consoleLogger;
    this.keys = new RedisKeys(options.prefix ?? "wse:");
    this.commands = new Redis(url, { ...connectionOptions, connectionName: "wse-broker" });
    this.subscriber = new Redis(url, { ...connectionOptions, connectionName: "wse-broker-sub" });
    this.subscriptions = new RedisSubscriptions(this.subscriber, [this.keys.broadcastChannel, this.keys.controlChannel]);
    this.streams = new RedisHistory(this.commands, this.keys, limits);
    this.members = new RedisPresence(this.commands, this.keys, { memberTtlMs: presenceTtlMs });
    this.watch(this.commands, "commands");
    this.watch(this.subscriber, "subscriber");
    this.subscriber.on("ready", () => {
      this.subscriptions.resync().then(
        () => this.noteHealth(),
        (error) => this.logger.warn("redis broker: resubscribing failed (retried on the next reconnect)", { error: String(error) }),
      );
    });
    this.subscriber.on("message", (channel: string, message: string) => this.dispatch(channel, message));
    // After a reconnect, restore this node's presence members once its own channels are back.
    this.commands.on("ready", () => void this.waitUntilHealthy(5_000).then(() => this.maintain(), () => {}));
    this.timer = setInterval(() => void this.maintain(), refreshMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /**
   * False while Redis is unreachable: either connection down, channels not yet restored, or
   * Redis not answering (a command timed out and none succeeded since).
   */
  get healthy(): boolean {
    return !this.closed && !this.stalled && this.commands.status === "ready" && this.subscriptions.inSync;
  }

  /** Resolves once the broker is healthy; rejects after `timeoutMs`. */
  async waitUntilHealthy(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.healthy) {
      if (this.closed) throw new BrokerUnavailableError("Redis broker is closed");
      if (Date.now() > deadline) {
        throw new BrokerUnavailableError(`Redis broker not healthy after ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ""}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Installs the node's event handler. */
  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  /**
   * Declares local interest (idempotent); resolves once Redis confirmed the SUBSCRIBE, including
   * one another caller started for the same topic. While Redis is down it resolves at once and
   * the channels are subscribed on reconnect.
   */
  async subscribe(topics: string[]): Promise<void> {
    this.ensureOpen("subscribe");
    topics.forEach(checkTopic);
    await this.subscriptions.add(topics.map((topic) => this.keys.topicChannel(topic)));
  }

  /** Drops local interest (one call ends it, however many `subscribe` calls came before). */
  async unsubscribe(topics: string[]): Promise<void> {
    if (this.closed) return;
    topics.forEach(checkTopic);
    await this.subscriptions.remove(topics.map((topic) => this.keys.topicChannel(topic)));
  }

  /** Publishes through the Lua script (idempotency, offset, history, PUBLISH in one step). */
  async publish(topic: string, data: PublicationData, options: PublishOptions = {}): Promise<Publication> {
    checkTopic(topic);
    checkData(data, "publication data");
    if (typeof data.type !== "string" || typeof data.id !== "string") {
      throw new TypeError("Redis broker: publication data needs a string type and id");
    }
    const ttl = options.idempotencyTtlMs ?? 0;
    if (!(ttl >= 0)) throw new TypeError(`Redis broker: idempotencyTtlMs must be >= 0, got ${ttl}`);
    return this.run(`publish to "${topic}"`, () => this.streams.publish(topic, data, ttl));
  }

  /** Sends a topic-less message to every node. */
  async broadcast(data: PublicationData): Promise<void> {
    checkData(data, "broadcast data");
    if (typeof data.type !== "string") throw new TypeError("Redis broker: broadcast data needs a string type");
    const message = JSON.stringify(data);
    await this.run("broadcast", () => this.commands.publish(this.keys.broadcastChannel, message));
  }

  /** Sends a control command to every node. */
  async control(event: Extract<BrokerEvent, { kind: "control" }>): Promise<void> {
    checkData(event, "control event");
    const message = JSON.stringify({ ...event, kind: "control" });
    await this.run("send control", () => this.commands.publish(this.keys.controlChannel, message));
  }

  /** Retained publications after `sinceOffset` (-1 for all), at most `limit`. */
  async history(topic: string, sinceOffset: number, limit: number): Promise<HistoryResult> {
    checkTopic(topic);
    if (!Number.isSafeInteger(sinceOffset) || sinceOffset < -1) {
      throw new TypeError(`Redis broker: sinceOffset must be an integer >= -1, got ${sinceOffset}`);
    }
    if (!Number.isSafeInteger(limit) || limit < 0) throw new TypeError(`Redis broker: limit must be an integer >= 0, got ${limit}`);
    const result = await this.run(`read history of "${topic}"`, () => this.streams.history(topic, sinceOffset, limit));
    await this.settle(topic);
    return result;
  }

  /** The stream top; creates the stream (new epoch) when missing. */
  async top(topic: string): Promise<StreamTop> {
    checkTopic(topic);
    const top = await this.run(`read the top of "${topic}"`, () => this.streams.top(topic));
    await this.settle(topic);
    return top;
  }

  /** Adds or refreshes a member this node owns; join goes out for the user's first connection. */
  async presenceAdd(topic: string, member: PresenceMember): Promise<void> {
    checkTopic(topic);
    checkData(member, "presence member");
    if (typeof member.userId !== "string" || member.userId.length === 0) {
      throw new TypeError("Redis broker: presence member needs a non-empty string userId");
    }
    checkConnectionId(member.connectionId);
    checkData(member.data ?? {}, "presence data");
    return this.run(`add presence in "${topic}"`, () => this.members.add(topic, { ...member, data: member.data ?? {} }));
  }

  /** Removes a member; leave goes out for the user's last connection. */
  async presenceRemove(topic: string, connectionId: string): Promise<void> {
    checkTopic(topic);
    checkConnectionId(connectionId);
    await this.run(`remove presence in "${topic}"`, () => this.members.remove(topic, connectionId));
  }

  /** Replaces a member's data; update goes out. */
  async presenceUpdate(topic: string, connectionId: string, data: Record<string, unknown>): Promise<void> {
    checkTopic(topic);
    checkConnectionId(connectionId);
    checkData(data, "presence data");
    await this.run(`update presence in "${topic}"`, () => this.members.update(topic, connectionId, data));
  }

  /** Every member of a topic on every node. */
  async presence(topic: string): Promise<PresenceMember[]> {
    checkTopic(topic);
    return this.run(`read presence of "${topic}"`, () => this.members.list(topic));
  }

  /** Removes this node's presence members (best effort), stops timers and closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    if (this.commands.status === "ready" && this.members.localCount > 0) {
      await Promise.race([
        this.members.removeAllLocal().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 1_000)),
      ]);
    }
    this.closed = true;
    this.handler = null;
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  /**
   * Makes a read consistent with the live stream: the command and subscriber connections are two
   * sockets, so a publication Redis PUBLISHed before answering a read can still be in flight on
   * the subscriber socket when the answer arrives. For a topic with local interest, wait until
   * such publications reached the handler, so that (for the engine's recovery merge) every live
   * publication delivered after `history`/`top` resolves has an offset above the returned top.
   */
  private async settle(topic: string): Promise<void> {
    if (this.subscriptions.has(this.keys.topicChannel(topic))) await this.subscriptions.barrier();
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw new BrokerUnavailableError(`Redis broker is closed: cannot ${what}`);
  }

  /**
   * Runs a Redis operation with the broker's error mapping. A success clears `stalled` unless
   * `provesHealth` is false (operations that may complete without asking Redis anything).
   */
  private async run<T>(what: string, operation: () => Promise<T>, provesHealth = true): Promise<T> {
    this.ensureOpen(what);
    if (this.commands.status !== "ready") {
      throw new BrokerUnavailableError(
        `Redis unavailable: cannot ${what} (connection ${this.commands.status}${this.lastError ? `, ${this.lastError}` : ""})`,
      );
    }
    try {
      const result = await operation();
      if (this.stalled && provesHealth) {
        this.stalled = false;
        this.noteHealth();
      }
      return result;
    } catch (error) {
      if (error instanceof Error && /Command timed out/i.test(error.message)) {
        this.lastError = error.message;
        this.stalled = true;
        this.noteHealth();
      }
      if (isConnectionFailure(error) || this.commands.status !== "ready") {
        const reason = error instanceof Error ? error.message : String(error);
        throw new BrokerUnavailableError(`Redis unavailable: cannot ${what} (${reason})`, { cause: error });
      }
      throw error;
    }
  }

  private dispatch(channel: string, message: string): void {
    if (!this.handler) return;
    let event: BrokerEvent | null = null;
    const topic = this.keys.topicOf(channel);
    if (topic !== null) {
      if (!this.subscriptions.has(channel)) return;
      event = decodeTopicMessage(topic, message);
    } else if (channel === this.keys.broadcastChannel) event = decodeBroadcastMessage(message);
    else if (channel === this.keys.controlChannel) event = decodeControlMessage(message);
    if (!event) {
      this.logger.warn("redis broker: dropped a malformed message", { channel });
      return;
    }
    try {
      this.handler(event);
    } catch (error) {
      this.logger.warn("redis broker: event handler threw", { channel, error: String(error) });
    }
  }

  /** Refreshes this node's presence members and sweeps expired ones (one run at a time). */
  private async maintain(): Promise<void> {
    if (this.maintaining || this.closed || this.commands.status !== "ready") return;
    this.maintaining = true;
    try {
      if (this.stalled) await this.run("probe Redis", () => this.commands.ping());
      await this.run("refresh presence", () => this.members.refresh(), false);
      await this.run("sweep presence", () => this.members.sweep(), false);
    } catch (error) {
      this.logger.warn("redis broker: presence maintenance failed", { error: String(error) });
    } finally {
      this.maintaining = false;
    }
  }

  private watch(connection: Redis, name: string): void {
    connection.on("error", (error: Error) => {
      this.lastError = error.message;
    });
    connection.on("close", () => {
      if (name === "subscriber") this.subscriptions.lost();
      this.noteHealth();
    });
    connection.on("ready", () => this.noteHealth());
  }

  private noteHealth(): void {
    const healthy = this.healthy;
    if (healthy === this.wasHealthy || this.closed) return;
    this.wasHealthy = healthy;
    if (healthy) this.logger.info("redis broker: connected", { subscriptions: this.subscriptions.size });
    else this.logger.warn("redis broker: Redis unreachable, reconnecting", { error: this.lastError });
  }
}

/**
 * Creates a Redis broker for `url` (`redis://[user:pass@]host:port[/db]` or `rediss://`). It
 * connects in the background; `healthy` turns true once both connections are ready (use
 * `waitUntilHealthy()` to wait for that).
 */
export function createRedisBroker(url: string, options: RedisBrokerOptions = {}): RedisBroker {
  return new RedisBroker(url, options);
}
