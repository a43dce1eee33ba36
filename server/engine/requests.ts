/**
 * The other requests a client may send (PROTOCOL.md §4, §5): presence updates and queries,
 * snapshot requests, client publish, and application messages for the `onMessage` hook.
 *
 * @module
 */
import type { Envelope } from "../../wasm/envelope.ts";
import type { StreamTop } from "../broker/types.ts";
import type { InboundMessage, SnapshotResult } from "../types.ts";
import type { Session } from "./session.ts";
import { presenceData } from "./subscribe.ts";
import { topicProblem } from "./topics.ts";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `presence_update`: new data in every topic where this connection is present. */
export async function presenceUpdate(session: Session, env: Envelope): Promise<void> {
  if (!session.engine.options.presence) {
    session.sendError("PRESENCE_DISABLED", "presence is disabled on session server", true, undefined, env.cid);
    return;
  }
  const data = presenceData(session, env.p.data ?? {});
  if (!data) return;
  await Promise.all([...(session.presenceTopics ?? [])].map((t) => session.engine.broker.presenceUpdate(t, session.connectionId, data)));
}

/** `presence_request`: the topic's members, grouped by user. */
export async function presenceRequest(session: Session, env: Envelope): Promise<void> {
  const topic = env.p.topic;
  const problem = topicProblem(topic);
  if (problem) {
    session.invalid("INVALID_TOPIC", problem, env.cid);
    return;
  }
  if (session.acl && !session.acl.allows(topic as string)) {
    session.sendError("FORBIDDEN", "topic not allowed", true, { topic }, env.cid);
    return;
  }
  const summary = await session.engine.presenceSummary(topic as string);
  session.sendMessage("presence", summary, { category: "WSE", correlationId: env.cid });
}

/** `sync_request`: asks the application's snapshot provider per topic, then `snapshot_complete`. */
export async function snapshots(session: Session, env: Envelope): Promise<void> {
  const raw = env.p.topics;
  const topics = Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : session.topicList();
  const hook = session.engine.options.hooks.snapshot;
  const served: string[] = [];
  let sent = 0;
  for (const topic of topics) {
    if (topicProblem(topic) || (session.acl && !session.acl.allows(topic as string))) continue;
    served.push(topic as string);
    if (!hook) continue;
    let result: unknown;
    try {
      result = await hook(session, topic as string);
    } catch (error) {
      session.engine.logger.warn("snapshot hook failed", { topic, error: String(error) });
      continue;
    }
    if (session.closed) return;
    if (result === undefined || result === null) continue;
    let type = "snapshot";
    let payload: unknown = result;
    if (isPlainObject(result) && "payload" in result && Object.keys(result).every((k) => k === "type" || k === "payload")) {
      const r = result as unknown as SnapshotResult;
      if (typeof r.type === "string" && r.type.length > 0) type = r.type;
      payload = r.payload;
    }
    const p = isPlainObject(payload) && type !== "snapshot" ? payload : { topic, data: payload };
    session.sendMessage(type, p, { category: "S", correlationId: env.cid });
    sent++;
  }
  session.sendMessage(
    "snapshot_complete",
    { success: true, snapshots_sent: sent, topics: served },
    { category: "WSE", correlationId: env.cid },
  );
}

/** Client publish (opt-in): ACL and `authorizePublish`, then publish and `publish_ack`. */
export async function clientPublish(session: Session, env: Envelope): Promise<void> {
  const engine = session.engine;
  const o = engine.options;
  const cid = env.cid;
  if (!o.clientPublish) {
    session.sendError("PUBLISH_DISABLED", "client publish is disabled on session server", true, undefined, cid);
    return;
  }
  const p = env.p;
  const topic = p.topic;
  const problem = topicProblem(topic);
  if (problem) {
    session.invalid("INVALID_TOPIC", problem, cid);
    return;
  }
  const type = p.type ?? p.t ?? "message";
  if (typeof type !== "string" || type.length === 0 || type.length > 256) {
    session.invalid("INVALID_MESSAGE", "publish needs a type string", cid);
    return;
  }
  const payload = p.payload ?? p.p ?? {};
  if (!isPlainObject(payload)) {
    session.invalid("INVALID_MESSAGE", "publish payload must be an object", cid);
    return;
  }
  if (session.acl && !session.acl.allows(topic as string)) {
    session.sendError("FORBIDDEN", "topic not allowed", true, { topic }, cid);
    return;
  }
  const hook = o.hooks.authorizePublish;
  if (hook) {
    let ok = false;
    try {
      ok = (await hook(session, topic as string, type, payload)) === true;
    } catch {
      ok = false;
    }
    if (!ok) {
      session.sendError("FORBIDDEN", "publish not authorized", true, { topic }, cid);
      return;
    }
  }
  // A client's id is its own idempotency key, kept apart from the backend's (`POST /api/publish`)
  // so that a client cannot pre-empt a backend publication whose id it guessed.
  const id = typeof p.id === "string" && p.id.length > 0 && p.id.length <= 128 ? clientPublishId(session.userId, p.id) : undefined;
  let position: StreamTop;
  try {
    position = await engine.publish(topic as string, type, payload, { id });
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    session.invalid("MESSAGE_TOO_LARGE", error.message, cid);
    return;
  }
  session.sendMessage(
    "publish_ack",
    { topic, epoch: position.epoch, offset: position.offset },
    { category: "WSE", correlationId: cid },
  );
}

/** The idempotency key of a client publish: namespaced by the publishing user. */
export function clientPublishId(userId: string, id: string): string {
  return `client:${userId}:${id}`;
}

/** Any other message type goes to the application's `onMessage` hook. */
export function applicationMessage(session: Session, env: Envelope): void {
  const hook = session.engine.options.hooks.onMessage;
  if (!hook) return;
  const message: InboundMessage = { type: env.t, payload: env.p };
  if (env.id !== undefined) message.id = env.id;
  if (env.cid !== undefined) message.correlationId = env.cid;
  if (env.c !== undefined) message.category = env.c;
  try {
    const result = hook(session, message);
    if (result && typeof (result as Promise<void>).catch === "function") {
      (result as Promise<void>).catch((error) =>
        session.engine.logger.warn("onMessage hook failed", { connection_id: session.connectionId, error: String(error) }),
      );
    }
  } catch (error) {
    session.engine.logger.warn("onMessage hook failed", { connection_id: session.connectionId, error: String(error) });
  }
}
