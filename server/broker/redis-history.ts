/**
 * Topic streams in Redis: a meta hash (epoch, last offset) and a Redis Stream of retained
 * publications, both written by one Lua script per publication. The meta lives longer than the
 * history so a quiet topic keeps its epoch and offsets; when the meta is gone, the next access
 * starts a new epoch at offset 0.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { HistoryResult, Publication, PublicationData, StreamTop } from "./types.ts";
import type { RedisKeys } from "./redis-keys.ts";
import { decodePublicationRecord } from "./redis-messages.ts";
import { HISTORY_SCRIPT, PUBLISH_SCRIPT, runScript, TOP_SCRIPT } from "./redis-scripts.ts";

/** History limits. */
export interface RedisHistoryLimits {
  /** Publications retained per topic (0 = none). */
  size: number;
  /** How long a publication stays retained (ms). */
  ttlMs: number;
  /** How long a stream's epoch and offset outlive its last publication (ms). */
  metaTtlMs: number;
}

/** A fresh random epoch: 32 bits as 8 lowercase hex digits. */
export function newEpoch(): string {
  const bytes = crypto.getRandomValues(new Uint32Array(1));
  return bytes[0].toString(16).padStart(8, "0");
}

/** Publish, history and top for one node. */
export class RedisHistory {
  /** `connection` runs commands; `keys` names them. */
  constructor(
    private readonly connection: Redis,
    private readonly keys: RedisKeys,
    private readonly limits: RedisHistoryLimits,
  ) {}

  /** Assigns the next offset, appends to history and PUBLISHes, atomically. */
  async publish(topic: string, data: PublicationData, idempotencyTtlMs: number): Promise<Publication> {
    const json = JSON.stringify(data);
    const keys = [this.keys.streamMeta(topic), this.keys.streamHistory(topic)];
    if (idempotencyTtlMs > 0 && data.id) keys.push(this.keys.idempotency(topic, data.id));
    const reply = (await runScript(this.connection, PUBLISH_SCRIPT, keys, [
      newEpoch(),
      this.limits.metaTtlMs,
      json,
      this.limits.size,
      this.limits.ttlMs,
      this.keys.topicChannel(topic),
      Math.max(1, Math.round(idempotencyTtlMs)),
    ])) as [number, string];
    const publication = decodePublicationRecord(topic, reply[1]);
    if (!publication) throw new Error(`Redis broker: malformed publish reply for topic "${topic}"`);
    return publication;
  }

  /** The stream top, creating the stream (new epoch) when it does not exist. */
  async top(topic: string): Promise<StreamTop> {
    const [epoch, offset] = (await runScript(this.connection, TOP_SCRIPT, this.streamKeys(topic), [
      newEpoch(),
      this.limits.metaTtlMs,
    ])) as [string, number];
    return { epoch, offset };
  }

  /** Retained publications after `sinceOffset`, oldest first, at most `limit`. */
  async history(topic: string, sinceOffset: number, limit: number): Promise<HistoryResult> {
    const reply = (await runScript(this.connection, HISTORY_SCRIPT, this.streamKeys(topic), [
      newEpoch(),
      this.limits.metaTtlMs,
      sinceOffset,
      limit,
      this.limits.ttlMs,
    ])) as (string | number)[];
    const epoch = String(reply[0]);
    const publications: Publication[] = [];
    for (let i = 3; i + 1 < reply.length; i += 2) {
      publications.push({ topic, epoch, offset: Number(reply[i]), data: JSON.parse(String(reply[i + 1])) });
    }
    return { top: { epoch, offset: Number(reply[1]) }, publications, truncated: reply[2] === 1 };
  }

  private streamKeys(topic: string): string[] {
    return [this.keys.streamMeta(topic), this.keys.streamHistory(topic)];
  }
}
