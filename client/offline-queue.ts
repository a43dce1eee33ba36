/**
 * Offline queue: messages sent while disconnected wait here and are flushed after the next
 * connection in priority order (highest `priority` first, oldest first within a priority).
 *
 * Storage is pluggable: `MemoryQueueStorage` everywhere, `IndexedDBQueueStorage` in browsers
 * (survives a page reload), or any object implementing `QueueStorage`.
 *
 * ```ts
 * import { OfflineQueue } from "./offline-queue.ts";
 * const queue = new OfflineQueue();
 * await queue.enqueue({ type: "chat", payload: { text: "hi" }, priority: 5 });
 * for (const message of await queue.drain()) console.log(message.type);
 * ```
 *
 * @module
 */

/** A message waiting for a connection. */
export interface QueuedMessage {
  /** Monotonic id assigned by the queue (insertion order). */
  id: number;
  /** Envelope type `t`. */
  type: string;
  /** Envelope payload `p`. */
  payload: Record<string, unknown>;
  /** 1 (background) … 10 (critical). */
  priority: number;
  /** Correlation id `cid`, if any. */
  correlationId?: string;
  /** When it was queued, ms since the epoch. */
  enqueuedAt: number;
}

/** What `enqueue` accepts. */
export type NewQueuedMessage = Omit<QueuedMessage, "id" | "enqueuedAt">;

/** Persistence behind an `OfflineQueue`. All methods may be async. */
export interface QueueStorage {
  /** Every stored message, any order. */
  load(): Promise<QueuedMessage[]>;
  /** Stores one message. */
  add(message: QueuedMessage): Promise<void>;
  /** Removes messages by id (unknown ids are ignored). */
  remove(ids: readonly number[]): Promise<void>;
  /** Removes everything. */
  clear(): Promise<void>;
}

/** In-memory storage (the default outside browsers). */
export class MemoryQueueStorage implements QueueStorage {
  readonly #messages = new Map<number, QueuedMessage>();
  /** Every stored message. */
  load(): Promise<QueuedMessage[]> {
    return Promise.resolve([...this.#messages.values()]);
  }
  /** Stores one message. */
  add(message: QueuedMessage): Promise<void> {
    this.#messages.set(message.id, message);
    return Promise.resolve();
  }
  /** Removes messages by id. */
  remove(ids: readonly number[]): Promise<void> {
    for (const id of ids) this.#messages.delete(id);
    return Promise.resolve();
  }
  /** Removes everything. */
  clear(): Promise<void> {
    this.#messages.clear();
    return Promise.resolve();
  }
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** IndexedDB storage for browsers: one object store keyed by message id. */
export class IndexedDBQueueStorage implements QueueStorage {
  readonly #dbName: string;
  readonly #store = "messages";
  #db?: Promise<IDBDatabase>;

  /** Uses database `dbName` (default `wse-offline-queue`). */
  constructor(dbName = "wse-offline-queue") {
    this.#dbName = dbName;
  }

  /** True when the runtime has IndexedDB. */
  static available(): boolean {
    return typeof globalThis.indexedDB !== "undefined";
  }

  #open(): Promise<IDBDatabase> {
    this.#db ??= new Promise((resolve, reject) => {
      const req = globalThis.indexedDB.open(this.#dbName, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(this.#store, { keyPath: "id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return this.#db;
  }

  async #tx(mode: IDBTransactionMode, work: (store: IDBObjectStore) => void): Promise<void> {
    const db = await this.#open();
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(this.#store, mode);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
      work(tx.objectStore(this.#store));
    });
  }

  /** Every stored message. */
  async load(): Promise<QueuedMessage[]> {
    const db = await this.#open();
    return request(db.transaction(this.#store, "readonly").objectStore(this.#store).getAll() as IDBRequest<QueuedMessage[]>);
  }
  /** Stores one message. */
  add(message: QueuedMessage): Promise<void> {
    return this.#tx("readwrite", (store) => store.put(message));
  }
  /** Removes messages by id. */
  remove(ids: readonly number[]): Promise<void> {
    return this.#tx("readwrite", (store) => {
      for (const id of ids) store.delete(id);
    });
  }
  /** Removes everything. */
  clear(): Promise<void> {
    return this.#tx("readwrite", (store) => store.clear());
  }
}

/** Offline queue options. */
export interface OfflineQueueOptions {
  /** Maximum queued messages (default 1000). */
  maxSize?: number;
  /** Messages older than this are dropped at drain time, ms (default 3600000). */
  maxAge?: number;
  /** Where messages live (default memory). */
  storage?: QueueStorage;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

/** The queue's `getStats()` shape. */
export interface OfflineQueueStats {
  size: number;
  capacity: number;
  enabled: boolean;
  maxAgeMs: number;
  dropped: number;
  storage: string;
}

/** Orders by priority (high first), then by id (old first). */
export function compareQueued(a: QueuedMessage, b: QueuedMessage): number {
  return b.priority - a.priority || a.id - b.id;
}

/** A bounded, priority-ordered queue over pluggable storage. */
export class OfflineQueue {
  readonly maxSize: number;
  readonly maxAge: number;
  readonly storage: QueueStorage;
  readonly #now: () => number;
  #messages: QueuedMessage[] = [];
  #nextId = 1;
  #dropped = 0;
  #restored = false;

  /** Creates an empty queue (call `restore()` to pick up persisted messages). */
  constructor(options: OfflineQueueOptions = {}) {
    this.maxSize = options.maxSize ?? 1000;
    this.maxAge = options.maxAge ?? 3_600_000;
    if (!(this.maxSize >= 1)) throw new RangeError("offline queue maxSize must be ≥ 1");
    this.storage = options.storage ?? new MemoryQueueStorage();
    this.#now = options.now ?? Date.now;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#messages.length;
  }

  /** Loads messages persisted by an earlier session (once; later calls are no-ops). */
  async restore(): Promise<void> {
    if (this.#restored) return;
    this.#restored = true;
    const stored = await this.storage.load();
    const known = new Set(this.#messages.map((m) => m.id));
    for (const m of stored) if (!known.has(m.id)) this.#messages.push(m);
    this.#messages.sort((a, b) => a.id - b.id);
    this.#nextId = Math.max(this.#nextId, ...this.#messages.map((m) => m.id + 1));
  }

  /**
   * Queues a message. When full, the lowest-priority oldest message is evicted if the new one
   * outranks it; otherwise the new one is refused. Returns whether it was queued.
   */
  async enqueue(message: NewQueuedMessage): Promise<boolean> {
    const priority = Number.isFinite(message.priority) ? message.priority : 5;
    const entry: QueuedMessage = { ...message, priority, id: this.#nextId++, enqueuedAt: this.#now() };
    if (this.#messages.length >= this.maxSize) {
      const victim = [...this.#messages].sort(compareQueued).at(-1)!;
      if (victim.priority >= priority) {
        this.#dropped++;
        return false;
      }
      this.#messages = this.#messages.filter((m) => m !== victim);
      this.#dropped++;
      await this.storage.remove([victim.id]);
    }
    this.#messages.push(entry);
    await this.storage.add(entry);
    return true;
  }

  /** Removes and returns every live message in flush order; expired ones are discarded. */
  async drain(): Promise<QueuedMessage[]> {
    const cutoff = this.#now() - this.maxAge;
    const all = this.#messages;
    this.#messages = [];
    const live = all.filter((m) => m.enqueuedAt >= cutoff).sort(compareQueued);
    this.#dropped += all.length - live.length;
    if (all.length) await this.storage.remove(all.map((m) => m.id));
    return live;
  }

  /** The queued messages in flush order, without removing them. */
  peek(): QueuedMessage[] {
    return [...this.#messages].sort(compareQueued);
  }

  /** Discards everything. */
  async clear(): Promise<void> {
    this.#messages = [];
    await this.storage.clear();
  }

  /** Snapshot for `WSEClient.getStats()`. */
  getStats(): OfflineQueueStats {
    return {
      size: this.#messages.length,
      capacity: this.maxSize,
      enabled: true,
      maxAgeMs: this.maxAge,
      dropped: this.#dropped,
      storage: this.storage.constructor.name,
    };
  }
}
