/**
 * The node's pub/sub interest on the broker's subscriber connection, as a set: adding a channel
 * twice is one interest, removing it once ends it (the engine subscribes a topic when its first
 * local member arrives and unsubscribes when the last one goes).
 *
 * `add` resolves only once Redis has confirmed the SUBSCRIBE, also for a channel whose SUBSCRIBE
 * another caller started, so a history read made after it cannot miss a publication that the
 * channel does not deliver. After a reconnect, `resync`
 * subscribes every channel that still has interest (the connection is created with
 * `autoResubscribe: false`, the broker owns the list).
 *
 * @module
 */
import type { Redis } from "ioredis";

/** How many channels go into one SUBSCRIBE command during a resync. */
const RESYNC_CHUNK = 500;

/** Channel interest of one node. */
export class RedisSubscriptions {
  private readonly channels = new Set<string>();
  private readonly pending = new Map<string, Promise<void>>();
  private synced = false;

  /** `fixed` channels (broadcast, control) are subscribed whenever the connection is ready. */
  constructor(private readonly connection: Redis, private readonly fixed: string[]) {}

  /** True once every channel with interest is subscribed on the current connection. */
  get inSync(): boolean {
    return this.synced && this.connection.status === "ready";
  }

  /** True when the channel has local interest. */
  has(channel: string): boolean {
    return this.channels.has(channel) || this.fixed.includes(channel);
  }

  /** Number of topic channels with local interest. */
  get size(): number {
    return this.channels.size;
  }

  /** Adds interest; resolves when every given channel is confirmed by Redis (or Redis is down). */
  async add(channels: string[]): Promise<void> {
    const fresh: string[] = [];
    const waits: Promise<void>[] = [];
    for (const channel of new Set(channels)) {
      if (!this.channels.has(channel)) {
        this.channels.add(channel);
        fresh.push(channel);
      } else {
        const wait = this.pending.get(channel);
        if (wait) waits.push(wait);
      }
    }
    if (fresh.length > 0 && this.connection.status === "ready") {
      // A failure here means the connection dropped: `resync` subscribes these on reconnect.
      const done = this.connection.subscribe(...fresh).then(() => {}, () => {});
      for (const channel of fresh) this.pending.set(channel, done);
      waits.push(done);
      void done.then(() => {
        for (const channel of fresh) if (this.pending.get(channel) === done) this.pending.delete(channel);
      });
    }
    await Promise.all(waits);
  }

  /** Drops interest and unsubscribes. */
  async remove(channels: string[]): Promise<void> {
    const gone: string[] = [];
    for (const channel of new Set(channels)) {
      if (this.channels.delete(channel)) gone.push(channel);
    }
    if (gone.length > 0 && this.connection.status === "ready") {
      await this.connection.unsubscribe(...gone).then(() => {}, () => {});
    }
  }

  /**
   * Resolves once every message Redis queued on the subscriber connection before now has been
   * dispatched: a PING travels behind them on the same connection. A caller that read something
   * on the command connection (a history top) and then awaits this knows that every publication
   * up to that top has already reached the handler. Never rejects (with the link down there is
   * nothing in flight to wait for).
   */
  async barrier(): Promise<void> {
    if (this.connection.status !== "ready") return;
    await this.connection.ping().then(() => {}, () => {});
  }

  /** Marks the subscriptions as lost (the connection dropped). */
  lost(): void {
    this.synced = false;
  }

  /** Subscribes the fixed channels and every channel with interest on a fresh connection. */
  async resync(): Promise<void> {
    this.synced = false;
    const all = [...this.fixed, ...this.channels];
    for (let i = 0; i < all.length; i += RESYNC_CHUNK) {
      await this.connection.subscribe(...all.slice(i, i + RESYNC_CHUNK));
    }
    this.synced = true;
  }
}
