/**
 * The payloads the Redis broker puts on its pub/sub channels, and their decoding.
 *
 * A topic channel carries one message kind per first character:
 * - `p<epoch>:<offset>:<data JSON>` a publication (built by the publish Lua script);
 * - `j`, `l`, `u` followed by a stored member `<data JSON>\n<user id>` for presence join, leave
 *   and update (built by the presence Lua scripts).
 *
 * A stored member keeps the user id after the first newline: `JSON.stringify` never writes a raw
 * newline, so the split is unambiguous, and the Lua scripts find the user without decoding the
 * application's data (whatever its nesting).
 *
 * @module
 */
import type { BrokerEvent, Publication, PublicationData } from "./types.ts";

const PRESENCE_ACTIONS = { j: "join", l: "leave", u: "update" } as const;

/** A presence member as stored in Redis (the connection id is the hash field). */
export interface StoredMember {
  /** User id. */
  userId: string;
  /** Member data. */
  data: Record<string, unknown>;
}

/** Serializes a presence member for storage: `<data JSON>\n<user id>`. */
export function encodeMember(userId: string, data: Record<string, unknown>): string {
  return `${JSON.stringify(data)}\n${userId}`;
}

/** Parses a stored presence member; null when it is not one. */
export function decodeMember(text: string): StoredMember | null {
  const cut = text.indexOf("\n");
  if (cut < 0) return null;
  try {
    const data = JSON.parse(text.slice(0, cut));
    if (data && typeof data === "object" && !Array.isArray(data)) return { userId: text.slice(cut + 1), data };
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
  return member ? { kind: "presence", topic, action, userId: member.userId, data: member.data } : null;
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
