/**
 * Reference-counted pub/sub subscriptions on the broker's subscriber connection.
 *
 * `add` resolves only once Redis has confirmed the SUBSCRIBE, so a history read made after it
 * cannot miss a publication that the channel does not deliver. After a reconnect, `resync`
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
  private readonly counts = new Map<string, number>();
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
    return this.counts.has(channel) || this.fixed.includes(channel);
  }

  /** Number of topic channels with local interest. */
  get size(): number {
    return this.counts.size;
  }

  /** Adds one reference per channel; resolves when the new ones are confirmed by Redis. */
  async add(channels: string[]): Promise<void> {
    const fresh: string[] = [];
    const waits: Promise<void>[] = [];
    for (const channel of new Set(channels)) {
      const count = this.counts.get(channel) ?? 0;
      this.counts.set(channel, count + 1);
      if (count === 0) fresh.push(channel);
      else {
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

  /** Drops one reference per channel; unsubscribes the ones nobody needs any more. */
  async remove(channels: string[]): Promise<void> {
    const gone: string[] = [];
    for (const channel of new Set(channels)) {
      const count = this.counts.get(channel);
      if (count === undefined) continue;
      if (count <= 1) {
        this.counts.delete(channel);
        gone.push(channel);
      } else this.counts.set(channel, count - 1);
    }
    if (gone.length > 0 && this.connection.status === "ready") {
      await this.connection.unsubscribe(...gone).then(() => {}, () => {});
    }
  }

  /** Marks the subscriptions as lost (the connection dropped). */
  lost(): void {
    this.synced = false;
  }

  /** Subscribes the fixed channels and every channel with interest on a fresh connection. */
  async resync(): Promise<void> {
    this.synced = false;
    const all = [...this.fixed, ...this.counts.keys()];
    for (let i = 0; i < all.length; i += RESYNC_CHUNK) {
      await this.connection.subscribe(...all.slice(i, i + RESYNC_CHUNK));
    }
    this.synced = true;
  }
}
