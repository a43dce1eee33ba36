/**
 * Presence in Redis: one hash of members per topic, per-connection deadlines refreshed by the
 * node that owns the connection, and a per-topic count of each user's connections so `join` and
 * `leave` go out once per user, whichever node or connection comes and goes.
 *
 * Members of a node that died stop being refreshed; any node's sweep removes them after their
 * TTL and emits the `leave`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { PresenceMember } from "./types.ts";
import type { RedisKeys } from "./redis-keys.ts";
import { decodeMember, encodeMember } from "./redis-messages.ts";
import {
  PRESENCE_ADD_SCRIPT,
  PRESENCE_EXPIRED_SCRIPT,
  PRESENCE_LIST_SCRIPT,
  PRESENCE_REMOVE_SCRIPT,
  PRESENCE_UPDATE_SCRIPT,
  runScript,
} from "./redis-scripts.ts";

/** Most expired members one sweep removes. */
const SWEEP_BATCH = 256;

/** Presence timing. */
export interface RedisPresenceTiming {
  /** A member not refreshed for this long is gone (ms). */
  memberTtlMs: number;
}

interface LocalMember {
  userId: string;
  member: string;
}

/** Presence operations of one node, with the members it owns. */
export class RedisPresence {
  private readonly local = new Map<string, Map<string, LocalMember>>();

  /** `connection` runs commands; `keys` names them. */
  constructor(
    private readonly connection: Redis,
    private readonly keys: RedisKeys,
    private readonly timing: RedisPresenceTiming,
  ) {}

  /** Number of members this node owns. */
  get localCount(): number {
    let count = 0;
    for (const members of this.local.values()) count += members.size;
    return count;
  }

  private expiryMember(topic: string, connectionId: string): string {
    return JSON.stringify([topic, connectionId]);
  }

  private topicKeys(topic: string): string[] {
    return [
      this.keys.presenceMembers(topic),
      this.keys.presenceDeadlines(topic),
      this.keys.presenceUsers(topic),
      this.keys.presenceExpiry,
    ];
  }

  private addArgs(topic: string, connectionId: string, entry: LocalMember): (string | number)[] {
    return [
      connectionId,
      entry.userId,
      entry.member,
      this.timing.memberTtlMs,
      this.timing.memberTtlMs * 3,
      this.expiryMember(topic, connectionId),
      this.keys.topicChannel(topic),
    ];
  }

  /** Adds or refreshes a member this node owns. */
  async add(topic: string, member: PresenceMember): Promise<void> {
    const entry = { userId: member.userId, member: encodeMember(member.userId, member.data) };
    let members = this.local.get(topic);
    if (!members) this.local.set(topic, (members = new Map()));
    const previous = members.get(member.connectionId);
    members.set(member.connectionId, entry);
    try {
      await runScript(this.connection, PRESENCE_ADD_SCRIPT, this.topicKeys(topic), this.addArgs(topic, member.connectionId, entry));
    } catch (error) {
      if (previous) members.set(member.connectionId, previous);
      else this.forget(topic, member.connectionId);
      throw error;
    }
  }

  private forget(topic: string, connectionId: string): void {
    const members = this.local.get(topic);
    if (!members) return;
    members.delete(connectionId);
    if (members.size === 0) this.local.delete(topic);
  }

  /** Removes a member (emits leave for the user's last connection). */
  async remove(topic: string, connectionId: string, onlyIfExpired = false): Promise<boolean> {
    if (!onlyIfExpired) this.forget(topic, connectionId);
    const removed = await runScript(this.connection, PRESENCE_REMOVE_SCRIPT, this.topicKeys(topic), [
      connectionId,
      this.expiryMember(topic, connectionId),
      this.keys.topicChannel(topic),
      onlyIfExpired ? "1" : "0",
    ]);
    return removed === 1;
  }

  /** Replaces a member's data (emits update). */
  async update(topic: string, connectionId: string, data: Record<string, unknown>): Promise<void> {
    const dataJson = JSON.stringify(data);
    const entry = this.local.get(topic)?.get(connectionId);
    if (entry) entry.member = encodeMember(entry.userId, data);
    await runScript(this.connection, PRESENCE_UPDATE_SCRIPT, [this.keys.presenceMembers(topic)], [
      connectionId,
      dataJson,
      this.keys.topicChannel(topic),
    ]);
  }

  /** Every unexpired member of a topic, on every node. */
  async list(topic: string): Promise<PresenceMember[]> {
    const raw = (await runScript(this.connection, PRESENCE_LIST_SCRIPT, [
      this.keys.presenceMembers(topic),
      this.keys.presenceDeadlines(topic),
    ], [])) as string[];
    const members: PresenceMember[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const member = decodeMember(raw[i + 1]!);
      if (member) members.push({ userId: member.userId, connectionId: raw[i]!, data: member.data });
    }
    return members;
  }

  /** Refreshes the deadlines of every member this node owns (re-adding any Redis lost). */
  async refresh(): Promise<void> {
    if (this.local.size === 0) return;
    const pipeline = this.connection.pipeline();
    for (const [topic, members] of this.local) {
      const keys = this.topicKeys(topic);
      for (const [connectionId, entry] of members) {
        pipeline.evalsha(PRESENCE_ADD_SCRIPT.sha, keys.length, ...keys, ...this.addArgs(topic, connectionId, entry));
      }
    }
    const results = (await pipeline.exec()) ?? [];
    if (results.some(([error]) => error?.message.startsWith("NOSCRIPT"))) {
      // Redis restarted and lost its script cache: load it once and refresh again.
      await this.connection.script("LOAD", PRESENCE_ADD_SCRIPT.source);
      await this.refresh();
    }
  }

  /**
   * Removes members whose deadline passed (a dead node's), in batches until none is left or
   * `maxBatches` ran; returns how many went. Several nodes may sweep at once: removal is
   * idempotent, so each leave still goes out once.
   */
  async sweep(maxBatches = 40): Promise<number> {
    let removed = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const expired = (await runScript(this.connection, PRESENCE_EXPIRED_SCRIPT, [this.keys.presenceExpiry], [
        SWEEP_BATCH,
      ])) as string[];
      const results = await Promise.all(expired.map((item) => this.removeExpired(item)));
      removed += results.filter(Boolean).length;
      if (expired.length < SWEEP_BATCH) break;
    }
    return removed;
  }

  private async removeExpired(item: string): Promise<boolean> {
    let topic: unknown, connectionId: unknown;
    try {
      [topic, connectionId] = JSON.parse(item);
    } catch {
      // not ours
    }
    if (typeof topic !== "string" || typeof connectionId !== "string") {
      await this.connection.zrem(this.keys.presenceExpiry, item);
      return false;
    }
    return await this.remove(topic, connectionId, true);
  }

  /** Removes every member this node owns (graceful shutdown). */
  async removeAllLocal(): Promise<void> {
    const all: [string, string][] = [];
    for (const [topic, members] of this.local) for (const connectionId of members.keys()) all.push([topic, connectionId]);
    await Promise.all(all.map(([topic, connectionId]) => this.remove(topic, connectionId)));
  }
}
