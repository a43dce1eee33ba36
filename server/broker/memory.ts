/**
 * The memory broker: the embedded single-process `Broker`. Topic streams with a random 32-bit
 * epoch and offsets from 0, history bounded per topic (count), in time (TTL) and globally
 * (a byte budget), idempotent publish on `id`, and presence with per-user dedup.
 *
 * A stream whose whole history was lost to TTL or the memory budget is dropped, so its next
 * publication starts a new epoch at offset 0 (PROTOCOL.md §4).
 *
 * @example
 * ```ts
 * const broker = new MemoryBroker({ historySize: 100, historyTtlMs: 60_000 });
 * broker.setHandler((event) => console.log(event.kind));
 * await broker.publish("prices", { type: "tick", payload: { v: 1 }, id: "m1", ts: new Date().toISOString() });
 * ```
 * @module
 */
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

/** Limits of the memory broker. */
export interface MemoryBrokerOptions {
  /** Publications retained per topic (default 256; 0 = no history). */
  historySize?: number;
  /** Retention time of one publication, ms (default 300 000). */
  historyTtlMs?: number;
  /** Global byte budget over all retained publications (default 256 MiB). */
  memoryBudget?: number;
  /** Clock, for tests (default `Date.now`). */
  now?: () => number;
  /** How often expired history is swept, ms (default 1000; 0 = only on access). */
  sweepIntervalMs?: number;
  /** Serialized payload size, when the caller already knows it (saves a `JSON.stringify`). */
  payloadSize?: (data: PublicationData) => number | undefined;
}

interface Entry {
  publication: Publication;
  bytes: number;
  expiresAt: number;
  stream: Stream;
  /** Neighbours in the list of every retained entry in insertion (= expiry) order. */
  older: Entry | null;
  newer: Entry | null;
}

interface Stream {
  epoch: string;
  nextOffset: number;
  /** Retained entries, oldest first, from `head`. */
  entries: Entry[];
  head: number;
}

/** A random 32-bit epoch as 8 lowercase hex digits. */
export function randomEpoch(): string {
  const bytes = new Uint32Array(1);
  crypto.getRandomValues(bytes);
  return bytes[0]!.toString(16).padStart(8, "0");
}

/** Rough byte size of a publication in memory. */
function sizeOf(topic: string, data: PublicationData, known: number | undefined): number {
  let payloadBytes = known ?? 16;
  if (known === undefined) {
    try {
      payloadBytes = JSON.stringify(data.payload ?? null)?.length ?? 4;
    } catch {
      payloadBytes = 1024;
    }
  }
  return 96 + topic.length + data.type.length + data.id.length + data.ts.length + payloadBytes;
}

/** In-process broker with bounded history and presence. */
export class MemoryBroker implements Broker {
  readonly #historySize: number;
  readonly #ttlMs: number;
  readonly #budget: number;
  readonly #now: () => number;
  readonly #payloadSize: ((data: PublicationData) => number | undefined) | undefined;
  readonly #streams = new Map<string, Stream>();
  /**
   * Ends of a doubly linked list of every retained entry in insertion (= expiry) order, for TTL
   * and budget eviction; an entry dropped by its topic's count bound is unlinked in O(1).
   */
  #oldest: Entry | null = null;
  #newest: Entry | null = null;
  #bytes = 0;
  readonly #idempotency = new Map<string, { result: Publication; expiresAt: number }>();
  readonly #presence = new Map<string, Map<string, PresenceMember>>();
  #handler: BrokerHandler = () => {};
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Creates a memory broker with the given limits. */
  constructor(options: MemoryBrokerOptions = {}) {
    this.#historySize = options.historySize ?? 256;
    this.#ttlMs = options.historyTtlMs ?? 300_000;
    this.#budget = options.memoryBudget ?? 256 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
    this.#payloadSize = options.payloadSize;
    const sweep = options.sweepIntervalMs ?? 1000;
    if (sweep > 0) {
      this.#timer = setInterval(() => this.sweep(), sweep);
      (this.#timer as { unref?: () => void }).unref?.();
    }
  }

  /** Always true: nothing external can fail. */
  get healthy(): boolean {
    return !this.#closed;
  }

  /** Bytes of history currently retained (estimate). */
  get retainedBytes(): number {
    return this.#bytes;
  }

  /** Installs the node's event handler. */
  setHandler(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  /** Interest is implicit in one process; nothing to do. */
  subscribe(_topics: string[]): Promise<void> {
    return Promise.resolve();
  }

  /** Interest is implicit in one process; nothing to do. */
  unsubscribe(_topics: string[]): Promise<void> {
    return Promise.resolve();
  }

  /** Appends to the topic's stream, then hands the publication to the handler. */
  publish(topic: string, data: PublicationData, options: PublishOptions = {}): Promise<Publication> {
    try {
      return Promise.resolve(this.publishSync(topic, data, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Synchronous form of `publish` (the memory broker never waits). */
  publishSync(topic: string, data: PublicationData, options: PublishOptions = {}): Publication {
    this.#assertOpen();
    const now = this.#now();
    const ttl = options.idempotencyTtlMs;
    const key = ttl && data.id ? `${topic}\u0000${data.id}` : undefined;
    if (key) {
      const seen = this.#idempotency.get(key);
      if (seen && seen.expiresAt > now) return seen.result;
    }
    this.#expire(now);
    const stream = this.#streamOf(topic);
    const publication: Publication = { topic, epoch: stream.epoch, offset: stream.nextOffset++, data };
    if (this.#historySize > 0 && this.#budget > 0) this.#append(stream, publication, now);
    if (key) this.#idempotency.set(key, { result: publication, expiresAt: now + ttl! });
    this.#emit({ kind: "publication", publication });
    return publication;
  }

  /** Delivers a topic-less message to this node. */
  broadcast(data: PublicationData): Promise<void> {
    this.#assertOpen();
    this.#emit({ kind: "broadcast", data });
    return Promise.resolve();
  }

  /** Delivers a control command to this node. */
  control(event: Extract<BrokerEvent, { kind: "control" }>): Promise<void> {
    this.#assertOpen();
    this.#emit(event);
    return Promise.resolve();
  }

  /** Retained publications after `sinceOffset`, oldest first, at most `limit`. */
  history(topic: string, sinceOffset: number, limit: number): Promise<HistoryResult> {
    this.#assertOpen();
    this.#expire(this.#now());
    const stream = this.#streamOf(topic);
    const top: StreamTop = { epoch: stream.epoch, offset: stream.nextOffset - 1 };
    const since = Math.max(-1, Math.floor(sinceOffset));
    const entries = stream.entries;
    const firstRetained = stream.head < entries.length ? entries[stream.head]!.publication.offset : stream.nextOffset;
    const truncated = since < top.offset && since + 1 < firstRetained;
    const publications: Publication[] = [];
    // Offsets in a stream are contiguous from head, so the start index is computed directly.
    const start = stream.head + Math.max(0, since + 1 - firstRetained);
    for (let i = start; i < entries.length && publications.length < limit; i++) {
      publications.push(entries[i]!.publication);
    }
    return Promise.resolve({ top, publications, truncated });
  }

  /** The stream's current top; creates the stream with a fresh epoch when missing. */
  top(topic: string): Promise<StreamTop> {
    this.#assertOpen();
    this.#expire(this.#now());
    const stream = this.#streamOf(topic);
    return Promise.resolve({ epoch: stream.epoch, offset: stream.nextOffset - 1 });
  }

  /** Adds or refreshes a member; `join` on the user's first connection in the topic. */
  presenceAdd(topic: string, member: PresenceMember): Promise<void> {
    this.#assertOpen();
    let members = this.#presence.get(topic);
    if (!members) this.#presence.set(topic, (members = new Map()));
    const existed = members.has(member.connectionId);
    const firstOfUser = !existed && !this.#userPresent(members, member.userId);
    members.set(member.connectionId, { ...member, data: { ...member.data } });
    if (firstOfUser) {
      this.#emit({ kind: "presence", topic, action: "join", userId: member.userId, data: member.data });
    }
    return Promise.resolve();
  }

  /** Removes a member; `leave` when it was the user's last connection in the topic. */
  presenceRemove(topic: string, connectionId: string): Promise<void> {
    this.#assertOpen();
    const members = this.#presence.get(topic);
    const member = members?.get(connectionId);
    if (!members || !member) return Promise.resolve();
    members.delete(connectionId);
    if (members.size === 0) this.#presence.delete(topic);
    if (!this.#userPresent(members, member.userId)) {
      this.#emit({ kind: "presence", topic, action: "leave", userId: member.userId, data: member.data });
    }
    return Promise.resolve();
  }

  /** Replaces a member's data; emits `update`. */
  presenceUpdate(topic: string, connectionId: string, data: Record<string, unknown>): Promise<void> {
    this.#assertOpen();
    const member = this.#presence.get(topic)?.get(connectionId);
    if (!member) return Promise.resolve();
    member.data = { ...data };
    this.#emit({ kind: "presence", topic, action: "update", userId: member.userId, data: member.data });
    return Promise.resolve();
  }

  /** Every member of a topic (one per connection). */
  presence(topic: string): Promise<PresenceMember[]> {
    this.#assertOpen();
    const members = this.#presence.get(topic);
    return Promise.resolve(members ? [...members.values()].map((m) => ({ ...m, data: { ...m.data } })) : []);
  }

  /** Drops expired history and idempotency keys now (also runs on a timer). */
  sweep(): void {
    if (this.#closed) return;
    const now = this.#now();
    this.#expire(now);
    for (const [key, value] of this.#idempotency) {
      if (value.expiresAt <= now) this.#idempotency.delete(key);
    }
  }

  /** Stops the sweep timer; later calls reject. */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#streams.clear();
    this.#presence.clear();
    this.#oldest = null;
    this.#newest = null;
    this.#bytes = 0;
    return Promise.resolve();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("broker is closed");
  }

  #emit(event: BrokerEvent): void {
    try {
      this.#handler(event);
    } catch {
      // A failing handler must not break the publisher; the engine logs its own errors.
    }
  }

  #userPresent(members: Map<string, PresenceMember>, userId: string): boolean {
    for (const m of members.values()) if (m.userId === userId) return true;
    return false;
  }

  #streamOf(topic: string): Stream {
    let stream = this.#streams.get(topic);
    if (!stream) {
      stream = { epoch: randomEpoch(), nextOffset: 0, entries: [], head: 0 };
      this.#streams.set(topic, stream);
    }
    return stream;
  }

  #append(stream: Stream, publication: Publication, now: number): void {
    const entry: Entry = {
      publication,
      bytes: sizeOf(publication.topic, publication.data, this.#payloadSize?.(publication.data)),
      expiresAt: now + this.#ttlMs,
      stream,
      older: this.#newest,
      newer: null,
    };
    stream.entries.push(entry);
    if (this.#newest) this.#newest.newer = entry;
    else this.#oldest = entry;
    this.#newest = entry;
    this.#bytes += entry.bytes;
    // Per-topic count bound.
    while (stream.entries.length - stream.head > this.#historySize) this.#dropHead(stream);
    // Global budget: evict globally oldest entries.
    while (this.#bytes > this.#budget && this.#oldest) this.#evictOldest();
  }

  /** Removes the oldest retained entry of a stream and unlinks it from the global list. */
  #dropHead(stream: Stream): void {
    const entry = stream.entries[stream.head]!;
    stream.head++;
    this.#bytes -= entry.bytes;
    const { older, newer } = entry;
    if (older) older.newer = newer;
    else this.#oldest = newer;
    if (newer) newer.older = older;
    else this.#newest = older;
    entry.older = entry.newer = null;
    this.#compact(stream);
  }

  #compact(stream: Stream): void {
    if (stream.head > 64 && stream.head * 2 > stream.entries.length) {
      stream.entries = stream.entries.slice(stream.head);
      stream.head = 0;
    }
  }

  /**
   * Drops the globally oldest entry (TTL or budget: history is lost). It is the oldest of its
   * stream too; a stream left without history is forgotten, so its next publication starts a
   * new epoch.
   */
  #evictOldest(): void {
    const entry = this.#oldest!;
    const stream = entry.stream;
    this.#dropHead(stream);
    const topic = entry.publication.topic;
    if (stream.head >= stream.entries.length && this.#streams.get(topic) === stream) this.#streams.delete(topic);
  }

  #expire(now: number): void {
    while (this.#oldest !== null && this.#oldest.expiresAt <= now) this.#evictOldest();
  }
}
