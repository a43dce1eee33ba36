/**
 * The recovery rule of PROTOCOL.md §4, as a pure function over a broker history answer: a
 * topic is recovered when the client's epoch is current, every publication after its offset is
 * still retained, and there are no more of them than the cap. Otherwise nothing is replayed and
 * a reason tells the client why.
 *
 * @module
 */
import type { HistoryResult, Publication, StreamTop } from "../broker/types.ts";

/** Why a topic was not recovered. */
export type RecoveryReason = "epoch_changed" | "evicted" | "too_many" | "no_history";

/** A client's last seen position in a topic. */
export interface ClientPosition {
  epoch: string;
  offset: number;
}

/** The verdict for one topic. */
export type RecoveryOutcome =
  | { recovered: true; top: StreamTop; publications: Publication[] }
  | { recovered: false; top: StreamTop; reason: RecoveryReason };

/**
 * Decides one topic's recovery. `history` must come from `broker.history(topic, position.offset,
 * cap + 1)` so that "more than the cap" is visible.
 */
export function decideRecovery(position: ClientPosition, history: HistoryResult, cap: number): RecoveryOutcome {
  const { top } = history;
  if (position.epoch !== top.epoch) return { recovered: false, top, reason: "epoch_changed" };
  if (position.offset > top.offset) {
    // The client claims a position the stream never reached in this epoch.
    return { recovered: false, top, reason: "epoch_changed" };
  }
  if (history.truncated) {
    return { recovered: false, top, reason: history.publications.length === 0 ? "no_history" : "evicted" };
  }
  const pubs = history.publications;
  if (top.offset - position.offset > cap || pubs.length > cap) return { recovered: false, top, reason: "too_many" };
  // Demand exactly the contiguous range after the position, up to at least the top. A broker
  // whose read raced a publication may return more than the top: the range then ends later.
  for (let i = 0; i < pubs.length; i++) {
    if (pubs[i]!.offset !== position.offset + 1 + i || pubs[i]!.epoch !== top.epoch) {
      return { recovered: false, top, reason: "evicted" };
    }
  }
  const last = pubs.length > 0 ? pubs[pubs.length - 1]!.offset : position.offset;
  if (last < top.offset) return { recovered: false, top, reason: "evicted" };
  return { recovered: true, top: { epoch: top.epoch, offset: last }, publications: pubs };
}

/** Reads a client position from untrusted input; null when malformed. */
export function parsePosition(value: unknown): ClientPosition | null {
  if (value === null || typeof value !== "object") return null;
  const v = value as Record<string, unknown>;
  const epoch = v.epoch;
  const offset = typeof v.offset === "string" && /^-?\d+$/.test(v.offset) ? Number(v.offset) : v.offset;
  if (typeof epoch !== "string" || !/^[0-9a-f]{8}$/i.test(epoch)) return null;
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < -1) return null;
  return { epoch: epoch.toLowerCase(), offset };
}
