/**
 * Names of the Redis keys and pub/sub channels the Redis broker uses, all under one prefix so
 * several deployments can share a Redis.
 *
 * ```ts
 * const keys = new RedisKeys("wse:");
 * keys.topicChannel("chat"); // "wse:t:chat"
 * ```
 *
 * @module
 */

/** Key and channel names for one prefix. */
export class RedisKeys {
  /** Channel for topic-less broadcasts. */
  readonly broadcastChannel: string;
  /** Channel for control commands (disconnect). */
  readonly controlChannel: string;
  /** Sorted set of every presence member in every topic, scored by expiry (ms). */
  readonly presenceExpiry: string;
  private readonly topicChannelPrefix: string;

  /** `prefix` goes in front of every key and channel (e.g. "wse:"). */
  constructor(readonly prefix: string) {
    this.broadcastChannel = `${prefix}broadcast`;
    this.controlChannel = `${prefix}control`;
    this.presenceExpiry = `${prefix}presence-expiry`;
    this.topicChannelPrefix = `${prefix}t:`;
  }

  /** Channel carrying a topic's publications and presence events. */
  topicChannel(topic: string): string {
    return this.topicChannelPrefix + topic;
  }

  /** The topic of a topic channel, or null for any other channel. */
  topicOf(channel: string): string | null {
    return channel.startsWith(this.topicChannelPrefix) ? channel.slice(this.topicChannelPrefix.length) : null;
  }

  /** Hash with the stream's epoch (`e`) and last offset (`o`). */
  streamMeta(topic: string): string {
    return `${this.prefix}m:${topic}`;
  }

  /** Stream of retained publications; entry id `<offset>-1`, fields `d` (data) and `t` (ms). */
  streamHistory(topic: string): string {
    return `${this.prefix}h:${topic}`;
  }

  /** Idempotency record of one publication id in one topic. */
  idempotency(topic: string, id: string): string {
    return `${this.prefix}i:${topic.length}:${topic}:${id}`;
  }

  /** Hash connection id → member JSON for a topic. */
  presenceMembers(topic: string): string {
    return `${this.prefix}pm:${topic}`;
  }

  /** Sorted set connection id → expiry (ms) for a topic. */
  presenceDeadlines(topic: string): string {
    return `${this.prefix}pe:${topic}`;
  }

  /** Hash user id → number of that user's connections in a topic. */
  presenceUsers(topic: string): string {
    return `${this.prefix}pu:${topic}`;
  }
}
