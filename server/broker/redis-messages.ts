/**
 * The payloads the Redis broker puts on its pub/sub channels, and their decoding.
 *
 * A topic channel carries one message kind per first character:
 * - `p<epoch>:<offset>:<data JSON>` a publication (built by the publish Lua script);
 * - `j`, `l`, `u` followed by a member JSON `{"u":userId,"c":connectionId,"d":data}` for presence
 *   join, leave and update (built by the presence Lua scripts).
 *
 * @module
 */
import type { BrokerEvent, Publication, PublicationData } from "./types.ts";

const PRESENCE_ACTIONS = { j: "join", l: "leave", u: "update" } as const;

/** A presence member as stored in Redis. */
export interface StoredMember {
  /** User id. */
  u: string;
  /** Connection id. */
  c: string;
  /** Member data. */
  d: Record<string, unknown>;
}

/** Serializes a presence member for storage (the data is checked to be JSON-serializable). */
export function encodeMember(userId: string, connectionId: string, data: Record<string, unknown>): string {
  return JSON.stringify({ u: userId, c: connectionId, d: data });
}

/** Parses a stored presence member; null when it is not one. */
export function decodeMember(text: string): StoredMember | null {
  try {
    const value = JSON.parse(text);
    if (value && typeof value.u === "string" && typeof value.c === "string" && typeof value.d === "object") {
      return value as StoredMember;
    }
  } catch {
    // fall through
  }
  return null;
}

/** Parses `<epoch>:<offset>:<data JSON>` (a publication record without its kind character). */
export function decodePublicationRecord(topic: string, record: string): Publication | null {
  const epoch = record.slice(0, 8);
  const end = record.indexOf(":", 9);
  if (record[8] !== ":" || end < 0) return null;
  const offset = Number(record.slice(9, end));
  if (!Number.isSafeInteger(offset)) return null;
  try {
    const data = JSON.parse(record.slice(end + 1)) as PublicationData;
    return { topic, epoch, offset, data };
  } catch {
    return null;
  }
}

/** Decodes one topic-channel message into a broker event; null for anything malformed. */
export function decodeTopicMessage(topic: string, message: string): BrokerEvent | null {
  const kind = message[0];
  if (kind === "p") {
    const publication = decodePublicationRecord(topic, message.slice(1));
    return publication ? { kind: "publication", publication } : null;
  }
  const action = PRESENCE_ACTIONS[kind as keyof typeof PRESENCE_ACTIONS];
  if (!action) return null;
  const member = decodeMember(message.slice(1));
  return member ? { kind: "presence", topic, action, userId: member.u, data: member.d } : null;
}

/** Decodes a broadcast-channel message; null for anything malformed. */
export function decodeBroadcastMessage(message: string): BrokerEvent | null {
  try {
    const data = JSON.parse(message) as PublicationData;
    return data && typeof data === "object" && typeof data.type === "string" ? { kind: "broadcast", data } : null;
  } catch {
    return null;
  }
}

/** Decodes a control-channel message; null for anything malformed. */
export function decodeControlMessage(message: string): BrokerEvent | null {
  try {
    const event = JSON.parse(message);
    return event && event.kind === "control" && event.command === "disconnect" ? event : null;
  } catch {
    return null;
  }
}
