/**
 * The broker contract: fan-out between nodes, per-topic streams (epoch + offset) with bounded
 * history, and presence. The memory broker is the embedded single-process default; the Redis
 * broker implements the same interface for several nodes. Everything is async because Redis is.
 *
 * Offsets: each topic stream starts at offset 0 and adds 1 per publication. `StreamTop.offset`
 * is the offset of the last publication, or -1 when the stream has none yet.
 *
 * @module
 */

/** A position in a topic stream. */
export interface StreamTop {
  /** 8 lowercase hex digits; changes when the stream's history is lost. */
  epoch: string;
  /** Offset of the last publication (inclusive), -1 for an empty stream. */
  offset: number;
}

/** The application part of a publication, as the publisher gave it. */
export interface PublicationData {
  /** Event type (`t` on the wire). */
  type: string;
  /** Event payload (`p` on the wire). */
  payload: unknown;
  /** Message id (`id`); also the idempotency key when the publisher supplied it. */
  id: string;
  /** ISO-8601 publish time. */
  ts: string;
  /** Priority (`pri`), when set. */
  priority?: number;
  /** Category override (`c`), when set; otherwise derived from the type. */
  category?: string;
  /** Correlation id (`cid`), when set. */
  correlationId?: string;
}

/** A publication with its place in the topic stream. */
export interface Publication {
  /** Topic name. */
  topic: string;
  /** Stream epoch at publish time. */
  epoch: string;
  /** Offset assigned to this publication. */
  offset: number;
  /** What was published. */
  data: PublicationData;
}

/** Options for `Broker.publish`. */
export interface PublishOptions {
  /** Deduplicate on `data.id` for this long (ms); a repeat returns the first result. */
  idempotencyTtlMs?: number;
}

/** What `Broker.history` returns. */
export interface HistoryResult {
  /** Current stream top (epoch and last offset). */
  top: StreamTop;
  /** Retained publications with offset > `sinceOffset`, oldest first, at most `limit`. */
  publications: Publication[];
  /** True when some publication after `sinceOffset` is no longer retained. */
  truncated: boolean;
}

/** A presence member as stored by the broker. */
export interface PresenceMember {
  /** User id (JWT `sub`). */
  userId: string;
  /** Connection id. */
  connectionId: string;
  /** Application data given with the subscription or the latest presence_update. */
  data: Record<string, unknown>;
}

/** Events a broker delivers to its node. */
export type BrokerEvent =
  | { kind: "publication"; publication: Publication }
  | { kind: "broadcast"; data: PublicationData }
  | { kind: "presence"; topic: string; action: "join" | "leave" | "update"; userId: string; data: Record<string, unknown> }
  | { kind: "control"; command: "disconnect"; userId?: string; connectionId?: string; code?: number; reason?: string };

/** Receives broker events on this node. */
export type BrokerHandler = (event: BrokerEvent) => void;

/** Fan-out, history and presence for one node. */
export interface Broker {
  /** Installs the node's event handler (one per broker). */
  setHandler(handler: BrokerHandler): void;
  /** Declares local interest in topics: publications on them reach this node's handler. */
  subscribe(topics: string[]): Promise<void>;
  /** Drops local interest in topics. */
  unsubscribe(topics: string[]): Promise<void>;
  /** Assigns the next offset, appends to history, and fans out to every interested node. */
  publish(topic: string, data: PublicationData, options?: PublishOptions): Promise<Publication>;
  /** Sends a topic-less message to every connection on every node. */
  broadcast(data: PublicationData): Promise<void>;
  /** Sends a control command to every node. */
  control(event: Extract<BrokerEvent, { kind: "control" }>): Promise<void>;
  /** Retained publications with offset > `sinceOffset` (use -1 for all), at most `limit`. */
  history(topic: string, sinceOffset: number, limit: number): Promise<HistoryResult>;
  /** The current stream top; creates the stream (new epoch) when it does not exist. */
  top(topic: string): Promise<StreamTop>;
  /** Adds or refreshes a presence member; emits `join` when it is the user's first connection in the topic. */
  presenceAdd(topic: string, member: PresenceMember): Promise<void>;
  /** Removes a member; emits `leave` when it was the user's last connection in the topic. */
  presenceRemove(topic: string, connectionId: string): Promise<void>;
  /** Updates a member's data everywhere it is present; emits `update`. */
  presenceUpdate(topic: string, connectionId: string, data: Record<string, unknown>): Promise<void>;
  /** All members of a topic. */
  presence(topic: string): Promise<PresenceMember[]>;
  /** Health: false while the backing store is unreachable. */
  readonly healthy: boolean;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
