/**
 * The topic hub: which local connections hold which topic, and the fan-out of one message to a
 * topic. Plain connections are reached through one host channel per (variant, topic), so a
 * publication costs one encode per variant in use plus one native `publish` each; encrypted
 * connections are reached one by one (their frames queued and written once per connection per
 * turn, see `write-batch.ts`); connections in the middle of a subscribe (reading
 * history) are "held": their messages are buffered and merged by offset when they go live.
 *
 * @module
 */
import type { SessionKey } from "../../wasm/api.ts";
import type { Publication } from "../broker/types.ts";
import type { HostFanOut } from "./host.ts";
import { type Outbound, Variant, VARIANTS } from "./outbound.ts";

const VARIANT_TAG = ["j", "z", "m"] as const;

/** The host channel carrying a topic's frames of one variant. */
export function topicChannel(variant: Variant, topic: string): string {
  return VARIANT_TAG[variant] + topic;
}

/** The host channel carrying broadcasts and server pings of one variant (topic names cannot contain NUL). */
export function broadcastChannel(variant: Variant): string {
  return VARIANT_TAG[variant] + "\u0000all";
}


/** A connection as the hub sees it. */
export interface HubMember {
  /** The wire variant of this connection. */
  readonly variant: Variant;
  /** Session key once encryption is on: the member is then reached individually. */
  readonly key: SessionKey | null;
  /**
   * True while the member holds the topic (live or held). The hub keeps no per-member record of
   * its plain live members (only their count), so the member's own topic list answers "is it on
   * this topic": it must turn true no later than right after `hold` and stay true until `remove`
   * returned.
   */
  hasTopic(topic: string): boolean;
  /** Joins a host channel. */
  join(channel: string): void;
  /** Leaves a host channel. */
  leave(channel: string): void;
  /** Sends one already-encoded frame to this connection only. */
  sendFrame(frame: string | Uint8Array): void;
  /**
   * Optional: like `sendFrame`, but the frame may be written at the end of the current turn
   * together with the connection's other queued frames (order kept). Used for the individual
   * (encrypted) fan-out so a burst of publications costs one socket write per connection.
   */
  queueFrame?(frame: string | Uint8Array): void;
}

/** A message buffered for a held member: the publication (for the offset merge) or a system message. */
export interface Held {
  /** Present for publications. */
  publication?: Publication;
  /** The encoded message. */
  out: Outbound;
}

interface TopicEntry {
  /** The topic's host channel per variant (`topicChannel`), made once. */
  channels: readonly [string, string, string];
  /** Live plain members per variant (the members themselves are known to the host channels only). */
  counts: [number, number, number];
  /** Live encrypted members. */
  encrypted: Set<HubMember>;
  /** Held members and their buffers. */
  held: Map<HubMember, Held[]>;
}

/**
 * Counts of one fan-out through the host channels, for metrics. Frames sent to members one by
 * one (encrypted) are not in it: the member counts them when it writes them (`sendFrame`).
 */
export interface DeliveryCount {
  /** Connections reached through host channels. */
  messages: number;
  /** Bytes handed to the host (native fan-out counted once per receiving connection). */
  bytes: number;
}

/** Topic index and fan-out. */
export class Hub {
  readonly #topics = new Map<string, TopicEntry>();
  #fanOut: HostFanOut | null = null;

  /** Installs the host fan-out (Bun's `server.publish`, the Deno channel map). */
  setFanOut(fanOut: HostFanOut): void {
    this.#fanOut = fanOut;
  }

  /** True when any local member (live or held) is on the topic. */
  has(topic: string): boolean {
    return this.#topics.has(topic);
  }

  /** Members on a topic (live and held). */
  count(topic: string): number {
    const e = this.#topics.get(topic);
    return e ? e.counts[0] + e.counts[1] + e.counts[2] + e.encrypted.size + e.held.size : 0;
  }

  /** Every topic with local members. */
  topics(): IterableIterator<string> {
    return this.#topics.keys();
  }

  /** Number of topics with local members. */
  get size(): number {
    return this.#topics.size;
  }

  /** True when the member is live on the topic. */
  isLive(topic: string, member: HubMember): boolean {
    const entry = this.#topics.get(topic);
    return entry !== undefined && isLive(entry, topic, member);
  }

  /**
   * Holds a member on a topic (detaching it from live delivery if needed) and returns its fresh
   * buffer. Returns `created: true` when the topic had no local member before.
   */
  hold(topic: string, member: HubMember): { buffer: Held[]; created: boolean } {
    let entry = this.#topics.get(topic);
    const created = !entry;
    if (!entry) {
      const channels = [topicChannel(Variant.JSON, topic), topicChannel(Variant.ZSTD, topic), topicChannel(Variant.MSGPACK, topic)] as const;
      entry = { channels, counts: [0, 0, 0], encrypted: new Set(), held: new Map() };
      this.#topics.set(topic, entry);
    } else if (isLive(entry, topic, member)) this.#detach(entry, member, member.variant, member.key);
    const buffer: Held[] = [];
    entry.held.set(member, buffer);
    return { buffer, created };
  }

  /** The current buffer of a held member, if it is held. */
  heldBuffer(topic: string, member: HubMember): Held[] | undefined {
    return this.#topics.get(topic)?.held.get(member);
  }

  /** Moves a held member to live delivery; returns false when it was not held (e.g. removed meanwhile). */
  release(topic: string, member: HubMember): boolean {
    const entry = this.#topics.get(topic);
    if (!entry || !entry.held.delete(member)) return false;
    this.#attach(entry, member);
    return true;
  }

  /** Removes a member from a topic; returns true when the topic has no local member left. */
  remove(topic: string, member: HubMember): boolean {
    const entry = this.#topics.get(topic);
    if (!entry) return false;
    if (!entry.held.delete(member) && member.hasTopic(topic)) this.#detach(entry, member, member.variant, member.key);
    if (entry.held.size === 0 && entry.encrypted.size === 0 && entry.counts[0] + entry.counts[1] + entry.counts[2] === 0) {
      this.#topics.delete(topic);
      return true;
    }
    return false;
  }

  /**
   * Re-wires a member's live topics after its variant or key changed (zstd negotiated,
   * encryption started). `previous` is how it was reached before.
   */
  rewire(member: HubMember, topics: Iterable<string>, previous: { variant: Variant; key: SessionKey | null }): void {
    for (const topic of topics) {
      const entry = this.#topics.get(topic);
      if (!entry || !isLive(entry, topic, member)) continue;
      this.#detach(entry, member, previous.variant, previous.key);
      this.#attach(entry, member);
    }
  }

  /**
   * Fans one message out to a topic: one host publish per variant in use, individual frames for
   * encrypted members, buffering for held members.
   */
  deliver(topic: string, out: Outbound, publication?: Publication): DeliveryCount {
    const entry = this.#topics.get(topic);
    const count: DeliveryCount = { messages: 0, bytes: 0 };
    if (!entry) return count;
    const fanOut = this.#fanOut;
    for (const variant of VARIANTS) {
      const n = entry.counts[variant];
      if (n === 0 || !fanOut) continue;
      const frame = out.frame(variant);
      fanOut.publish(entry.channels[variant], frame);
      count.messages += n;
      count.bytes += n * (typeof frame === "string" ? frame.length : frame.byteLength);
    }
    for (const member of entry.encrypted) {
      const frame = out.encrypted(member.variant, member.key!);
      if (member.queueFrame) member.queueFrame(frame);
      else member.sendFrame(frame);
    }
    for (const buffer of entry.held.values()) buffer.push(publication ? { publication, out } : { out });
    return count;
  }

  #attach(entry: TopicEntry, member: HubMember): void {
    if (member.key) {
      entry.encrypted.add(member);
    } else {
      entry.counts[member.variant]++;
      member.join(entry.channels[member.variant]);
    }
  }

  #detach(entry: TopicEntry, member: HubMember, variant: Variant, key: SessionKey | null): void {
    if (key) {
      entry.encrypted.delete(member);
    } else {
      entry.counts[variant]--;
      member.leave(entry.channels[variant]);
    }
  }
}

/** A member on a topic that is not held is live there. */
function isLive(entry: TopicEntry, topic: string, member: HubMember): boolean {
  return member.hasTopic(topic) && !entry.held.has(member);
}

export { Variant };
