/**
 * Subscriptions of one connection (PROTOCOL.md §4): subscribe with per-topic recovery and the
 * gapless, duplicate-free seam; unsubscribe; release on close. Presence tracking that rides on a
 * subscription is started here too.
 *
 * @module
 */
import type { Envelope } from "../../wasm/envelope.ts";
import type { StreamTop } from "../broker/types.ts";
import type { Held } from "./hub.ts";
import { type ClientPosition, decideRecovery, parsePosition, type RecoveryOutcome } from "./recovery.ts";
import type { Session } from "./session.ts";
import { topicProblem } from "./topics.ts";

/** Options of `subscribeTopics`. */
export interface SubscribeRequest {
  /** Recover topics that have a position. */
  recover: boolean;
  /** Per-topic positions (`recovery` of the request). */
  positions?: unknown;
  /** One position for every topic (2.x style `epoch`/`offset` at payload level). */
  fallback?: ClientPosition | null;
  /** Presence data to track the user with, when given. */
  presence?: unknown;
  /** Apply the ACL and the `authorizeSubscribe` hook. */
  authorize: boolean;
  /** Correlation id to echo in the reply. */
  correlationId?: string;
}

interface TopicResult {
  outcome: RecoveryOutcome | { recovered: false; top: StreamTop; reason?: undefined };
  requested: boolean;
}

/** True for a non-null, non-array object. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Handles `subscription_update` / `subscription`: subscribe (with recovery) or unsubscribe, always replying. */
export async function handleSubscription(session: Session, env: Envelope): Promise<void> {
  const p = env.p;
  const action = p.action ?? "subscribe";
  let topics: unknown[] | null = Array.isArray(p.topics) ? p.topics : typeof p.topic === "string" ? [p.topic] : null;
  if (typeof p.topics === "string") topics = p.topics.split(",").filter((t) => t.length > 0);
  if (!topics) {
    session.invalid("INVALID_MESSAGE", "subscription_update needs a topics array", env.cid);
    return;
  }
  if (action === "unsubscribe") {
    const names = topics.filter((t): t is string => typeof t === "string");
    await session.unsubscribeTopics(names);
    session.sendMessage(
      "subscription_update",
      { action: "unsubscribe", success: true, success_topics: names, failed_topics: [], errors: {} },
      { category: "WSE", correlationId: env.cid },
    );
    return;
  }
  if (action !== "subscribe") {
    session.invalid("INVALID_MESSAGE", `unknown subscription action ${String(action).slice(0, 64)}`, env.cid);
    return;
  }
  await session.subscribeTopics(topics, {
    recover: p.recover === true,
    positions: p.recovery,
    fallback: p.recover === true ? parsePosition({ epoch: p.epoch, offset: p.offset }) : null,
    presence: p.presence,
    authorize: true,
    correlationId: env.cid,
  });
}

/**
 * Subscribes to topics, recovering where asked, and replies. The seam: every accepted topic is
 * held (live messages buffered) before the stream positions are read; after the reads, replays
 * go out, then the reply, then buffered messages past each topic's reported offset, and only
 * then the topic goes live — all synchronously, so nothing is lost or sent twice.
 */
export async function subscribeTopics(session: Session, rawTopics: unknown[], request: SubscribeRequest): Promise<string[]> {
  const engine = session.engine;
  const o = engine.options;
  const failed: string[] = [];
  const errors: Record<string, string> = {};
  const fail = (topic: string, reason: string) => {
    failed.push(topic);
    errors[topic] = reason;
  };
  const accepted: string[] = [];
  // Duplicates: a list for the usual handful of topics (no Set per subscribe), a Set for long lists.
  const seenSet = rawTopics.length > 16 ? new Set<string>() : null;
  const seenList: string[] = [];
  for (const raw of rawTopics) {
    const problem = topicProblem(raw);
    if (problem) {
      fail(typeof raw === "string" ? raw.slice(0, 1024) : String(raw).slice(0, 64), "invalid_topic");
      continue;
    }
    const topic = raw as string;
    if (seenSet ? seenSet.has(topic) : seenList.includes(topic)) continue;
    if (seenSet) seenSet.add(topic);
    else seenList.push(topic);
    if (request.authorize && session.acl && !session.acl.allows(topic)) {
      fail(topic, "forbidden");
      continue;
    }
    if (!session.hasTopic(topic) && session.topicCount + accepted.length >= o.maxTopicsPerConnection) {
      fail(topic, "too_many_topics");
      continue;
    }
    accepted.push(topic);
  }
  const hook = o.hooks.authorizeSubscribe;
  if (request.authorize && hook && accepted.length > 0) {
    const verdicts = await Promise.all(
      accepted.map(async (t) => {
        try {
          return (await hook(session, t)) === true;
        } catch {
          return false;
        }
      }),
    );
    for (let i = accepted.length - 1; i >= 0; i--) {
      if (!verdicts[i]) {
        fail(accepted[i]!, "forbidden");
        accepted.splice(i, 1);
      }
    }
  }
  const trackData = presenceData(session, request.presence);
  if (session.closed) return [];

  // Hold every accepted topic before reading positions.
  const buffers: Held[][] = [];
  const wasLive = accepted.map((topic) => engine.hub.isLive(topic, session));
  for (const topic of accepted) {
    const held = engine.hub.hold(topic, session);
    session.addTopic(topic);
    buffers.push(held.buffer);
  }
  let results: TopicResult[];
  try {
    // Every subscriber waits until the node's interest is effective (a broker's repeated
    // subscribe waits for the pending one), so no publication after the position read is missed.
    if (accepted.length > 0) await engine.broker.subscribe(accepted);
    results = await Promise.all(accepted.map((topic) => position(session, topic, request)));
  } catch (error) {
    engine.logger.error("subscribe failed", { connection_id: session.connectionId, error: String(error) });
    accepted.forEach((topic, i) => {
      fail(topic, "unavailable");
      if (wasLive[i]) {
        // A re-subscribe (recovery request) that failed keeps the live subscription it had.
        for (const held of engine.hub.heldBuffer(topic, session) ?? []) session.sendOutbound(held.out);
        engine.hub.release(topic, session);
        return;
      }
      // The hub asks the session whether it holds the topic: remove first, then forget it.
      if (engine.hub.remove(topic, session)) void engine.broker.unsubscribe([topic]).catch(() => {});
      session.deleteTopic(topic);
    });
    accepted.length = 0;
    results = [];
  }
  if (session.closed) return [];

  // Synchronous from here: replay, reply, flush, go live.
  const succeeded: string[] = [];
  const recovery: Record<string, Record<string, unknown>> = {};
  let requested = 0;
  let recoveredCount = 0;
  for (let i = 0; i < accepted.length; i++) {
    const topic = accepted[i]!;
    if (engine.hub.heldBuffer(topic, session) !== buffers[i]) continue; // unsubscribed meanwhile
    const { outcome, requested: asked } = results[i]!;
    succeeded.push(topic);
    const entry: Record<string, unknown> = {
      epoch: outcome.top.epoch,
      offset: outcome.top.offset,
      recovered: outcome.recovered,
      count: 0,
    };
    if (asked) {
      requested++;
      if (outcome.recovered) {
        recoveredCount++;
        engine.counters.recoveryHits++;
        for (const publication of outcome.publications) {
          session.sendOutbound(engine.outbound.get(publication));
        }
        entry.count = outcome.publications.length;
      } else {
        engine.counters.recoveryMisses++;
        if (outcome.reason) entry.reason = outcome.reason;
      }
    }
    recovery[topic] = entry;
  }
  session.sendMessage(
    "subscription_update",
    {
      action: "subscribe",
      success: failed.length === 0,
      success_topics: succeeded,
      failed_topics: failed,
      errors,
      recoverable: o.recovery,
      recovered: requested > 0 && recoveredCount === requested,
      recovery,
    },
    { category: "WSE", correlationId: request.correlationId },
  );
  for (let i = 0; i < accepted.length; i++) {
    const topic = accepted[i]!;
    const buffer = buffers[i]!;
    if (engine.hub.heldBuffer(topic, session) !== buffer) continue;
    const top = results[i]!.outcome.top;
    for (const held of buffer) {
      const pub = held.publication;
      if (pub && pub.epoch === top.epoch && pub.offset <= top.offset) continue; // already covered
      session.sendOutbound(held.out);
    }
    engine.hub.release(topic, session);
  }
  if (trackData && succeeded.length > 0) {
    for (const topic of succeeded) {
      (session.presenceTopics ??= new Set()).add(topic);
      await engine.broker.presenceAdd(topic, { userId: session.userId, connectionId: session.connectionId, data: trackData });
    }
    if (session.closed) for (const topic of succeeded) void engine.broker.presenceRemove(topic, session.connectionId).catch(() => {});
  }
  return succeeded;
}

/** Reads one topic's position: a recovery verdict when asked for, otherwise the stream top. */
async function position(session: Session, topic: string, request: SubscribeRequest): Promise<TopicResult> {
  const engine = session.engine;
  const position = request.recover ? positionFor(topic, request) : null;
  if (!position) return { outcome: { recovered: false, top: await engine.broker.top(topic) }, requested: false };
  if (!engine.options.recovery) {
    return { outcome: { recovered: false, top: await engine.broker.top(topic), reason: "no_history" }, requested: true };
  }
  const cap = engine.options.history.maxRecovery;
  const history = await engine.broker.history(topic, position.offset, cap + 1);
  return { outcome: decideRecovery(position, history, cap), requested: true };
}

/** The client's position for a topic: per-topic first, then the 2.x single position. */
function positionFor(topic: string, request: SubscribeRequest): ClientPosition | null {
  const positions = request.positions;
  if (isPlainObject(positions) && Object.hasOwn(positions, topic)) return parsePosition(positions[topic]);
  return request.fallback ?? null;
}

/** Validates presence data (an object within `presenceMaxData` bytes); answers an error and returns null otherwise. */
export function presenceData(session: Session, value: unknown): Record<string, unknown> | null {
  if (value === undefined || value === null || value === false) return null;
  const o = session.engine.options;
  if (!o.presence) return null;
  const data = value === true ? {} : value;
  if (!isPlainObject(data)) {
    session.invalid("INVALID_MESSAGE", "presence must be an object");
    return null;
  }
  const size = Buffer.byteLength(JSON.stringify(data), "utf8");
  if (size > o.presenceMaxData) {
    session.invalid("MESSAGE_TOO_LARGE", `presence data of ${size} bytes exceeds ${o.presenceMaxData}`);
    return null;
  }
  return data;
}

/** Leaves topics (and their presence). Broker failures are logged, never thrown: local state is already updated. */
export async function unsubscribeTopics(session: Session, topics: Iterable<string>): Promise<void> {
  const engine = session.engine;
  const emptied: string[] = [];
  const presence: string[] = [];
  for (const topic of [...topics]) {
    if (!session.hasTopic(topic)) continue;
    // The hub asks the session whether it holds the topic: remove first, then forget it.
    if (engine.hub.remove(topic, session)) emptied.push(topic);
    session.deleteTopic(topic);
    if (session.presenceTopics?.delete(topic)) presence.push(topic);
  }
  await releaseInBroker(session, emptied, presence);
}

/** Releases everything the connection held; called once by the engine on close. Never rejects. */
export async function releaseTopics(session: Session): Promise<void> {
  const engine = session.engine;
  engine.encryptedSessions.delete(session);
  const emptied: string[] = [];
  for (const topic of session.topicList()) if (engine.hub.remove(topic, session)) emptied.push(topic);
  session.clearTopics();
  const presence = session.presenceTopics ? [...session.presenceTopics] : [];
  session.presenceTopics = null;
  await releaseInBroker(session, emptied, presence);
}

/** Drops node interest and presence in the broker; logs failures instead of throwing. */
async function releaseInBroker(session: Session, emptied: string[], presence: string[]): Promise<void> {
  const { broker, logger } = session.engine;
  const results = await Promise.allSettled([
    emptied.length > 0 ? broker.unsubscribe(emptied) : undefined,
    ...presence.map((t) => broker.presenceRemove(t, session.connectionId)),
  ]);
  for (const r of results) {
    if (r.status === "rejected") logger.warn("broker release failed", { connection_id: session.connectionId, error: String(r.reason) });
  }
}
