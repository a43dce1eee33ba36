/**
 * Events as the application sees them, and the bounded queue behind `recv()` and
 * `for await (const event of client)`.
 *
 * @module
 */
import type { Envelope } from "../wasm/envelope.ts";
import { WSETimeoutError } from "./errors.ts";
import { Fifo } from "./fifo.ts";

/** Message priorities of the WSE protocol. */
export const MessagePriority = Object.freeze({
  CRITICAL: 10,
  HIGH: 8,
  NORMAL: 5,
  LOW: 3,
  BACKGROUND: 1,
});

/** One event from the server (or synthesized by the client, category `client`). */
export interface WSEEvent<P = Record<string, unknown>> {
  /** Event type (`t`). */
  type: string;
  /** Event data (`p`). */
  payload: P;
  /** Message id. */
  id?: string;
  /** Server sequence number (`seq`; diagnostic only — ordering is per topic). */
  sequence?: number;
  /** ISO-8601 time (`ts`). */
  timestamp?: string;
  /** `WSE` system, `S` snapshot, `U` update, `client` for events the client itself raises. */
  category?: string;
  /** 10 critical … 1 background. */
  priority?: number;
  /** Correlation id (`cid`). */
  correlationId?: string;
  /** Recovery stamp: the topic (`tp`). */
  topic?: string;
  /** Recovery stamp: the topic stream's epoch (`e`). */
  epoch?: string;
  /** Recovery stamp: the offset in the topic stream (`o`). */
  offset?: number;
  /** Protocol version (`v`). */
  version?: number;
  /** Signature (`sig`), when the server signs. */
  signature?: string;
}

/**
 * Payload of the client's `discontinuity` event: some publications of `topic` were missed and
 * cannot be recovered, so the stream jumps from `previous` to `current`.
 */
export interface DiscontinuityPayload {
  topic: string;
  /** `epoch_changed`, `evicted`, `too_many`, `no_history`, `recovery_failed` or `rebaseline`. */
  reason: string;
  /** The last position the application saw. */
  previous: { epoch: string; offset: number } | null;
  /** Where the stream continues (the next event has offset `current.offset + 1`). */
  current: { epoch: string | null; offset: number };
}

/** Payload of the client's `recovery` event: missed publications of `topic` were replayed. */
export interface RecoveryPayload {
  topic: string;
  recovered: true;
  /** How many publications the server replayed. */
  count: number;
}

/** Converts a parsed envelope into an event. */
export function eventFromEnvelope(env: Envelope): WSEEvent {
  const event: WSEEvent = { type: env.t, payload: env.p };
  if (env.id !== undefined) event.id = env.id;
  if (env.seq !== undefined) event.sequence = env.seq;
  if (env.ts !== undefined) event.timestamp = env.ts;
  event.category = env.c;
  if (env.pri !== undefined) event.priority = env.pri;
  if (env.cid !== undefined) event.correlationId = env.cid;
  if (env.tp !== undefined) event.topic = env.tp;
  if (env.e !== undefined) event.epoch = env.e;
  if (env.o !== undefined) event.offset = env.o;
  if (env.v !== undefined) event.version = env.v;
  if (env.sig !== undefined) event.signature = env.sig;
  return event;
}

/** An event raised by the client itself (category `client`). */
export function clientEvent<P extends object>(type: string, payload: P, topic?: string): WSEEvent {
  const event: WSEEvent = {
    type,
    payload: payload as unknown as Record<string, unknown>,
    category: "client",
    timestamp: new Date().toISOString(),
  };
  if (topic !== undefined) event.topic = topic;
  return event;
}

/**
 * A bounded FIFO of events with async consumers. When full, the oldest event is dropped (and
 * counted) so a slow reader never stalls the connection.
 */
export class EventQueue {
  readonly capacity: number;
  readonly #items = new Fifo<WSEEvent>();
  #waiters: Array<(event: WSEEvent | null) => void> = [];
  #closed = false;
  #dropped = 0;

  /** Creates a queue holding at most `capacity` events. */
  constructor(capacity = 1000) {
    if (!(capacity >= 1)) throw new RangeError("queueSize must be ≥ 1");
    this.capacity = capacity;
  }

  /** Events waiting. */
  get size(): number {
    return this.#items.length;
  }

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an event (hands it straight to a waiting reader if there is one). */
  push(event: WSEEvent): void {
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (waiter) return waiter(event);
    if (this.#items.length >= this.capacity) {
      this.#items.shift();
      this.#dropped++;
    }
    this.#items.push(event);
  }

  /**
   * The next event; `null` once the queue is closed and empty. With `timeout` (ms) rejects with
   * `WSETimeoutError` when nothing arrives in time.
   */
  next(timeout?: number): Promise<WSEEvent | null> {
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = (event: WSEEvent | null) => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(event);
      };
      this.#waiters.push(waiter);
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new WSETimeoutError(`no event within ${timeout} ms`));
        }, timeout);
      }
    });
  }

  /** Ends the stream: waiting readers get `null`; queued events can still be read. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }
}
