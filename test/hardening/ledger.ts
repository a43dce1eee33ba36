/**
 * What the application saw of one topic, checked: every (epoch, offset) at most once, offsets
 * consecutive within an epoch, and any jump (new epoch, skipped offsets) announced by a
 * `discontinuity` event whose `current` position is exactly where the stream continues.
 *
 * @module
 */
import type { WSEClient, WSEEvent } from "../../client/mod.ts";

/** The fields of an application event the ledger reads. */
export interface LedgerEvent {
  type: string;
  topic?: string;
  epoch?: string;
  offset?: number;
  payload?: Record<string, unknown>;
}

/** The ledger's findings for one topic. */
export interface LedgerCheck {
  /** Publications delivered. */
  delivered: number;
  /** (epoch, offset) pairs delivered twice or more. */
  duplicates: number;
  /** Jumps without a matching discontinuity event. */
  gaps: number;
  /** Discontinuity events, by reason. */
  discontinuities: Record<string, number>;
  /** `recovery` events (replays). */
  recoveries: number;
  /** Last position delivered. */
  last: { epoch: string; offset: number } | null;
  /** Human-readable problems (first 10). */
  problems: string[];
}

/** Records one client's events and checks a topic's stream. */
export class StreamLedger {
  /** Every event recorded, in delivery order. */
  readonly events: LedgerEvent[] = [];

  /** Records everything `client` delivers to the application. */
  static attach(client: WSEClient): StreamLedger {
    const ledger = new StreamLedger();
    client.onAny((e: WSEEvent) => ledger.record(e));
    return ledger;
  }

  /** Records one event. */
  record(event: LedgerEvent): void {
    this.events.push({ type: event.type, topic: event.topic, epoch: event.epoch, offset: event.offset, payload: event.payload });
  }

  /** The last delivered publication of `topic`. */
  last(topic: string): { epoch: string; offset: number } | null {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.topic === topic && e.epoch !== undefined && e.offset !== undefined && e.type !== "discontinuity" && e.type !== "recovery") return { epoch: e.epoch, offset: e.offset };
    }
    return null;
  }

  /** Checks the stream of `topic`. */
  check(topic: string): LedgerCheck {
    const out: LedgerCheck = { delivered: 0, duplicates: 0, gaps: 0, discontinuities: {}, recoveries: 0, last: null, problems: [] };
    const seen = new Set<string>();
    let expectNext: { epoch: string | null; offset: number } | null = null; // from a discontinuity
    const problem = (text: string) => {
      if (out.problems.length < 10) out.problems.push(text);
    };
    for (const e of this.events) {
      if (e.type === "discontinuity" && e.payload?.topic === topic) {
        const reason = String(e.payload.reason);
        out.discontinuities[reason] = (out.discontinuities[reason] ?? 0) + 1;
        const current = e.payload.current as { epoch: string | null; offset: number } | undefined;
        expectNext = current ? { epoch: current.epoch, offset: current.offset + 1 } : null;
        continue;
      }
      if (e.type === "recovery" && e.payload?.topic === topic) {
        out.recoveries++;
        continue;
      }
      if (e.topic !== topic || e.epoch === undefined || e.offset === undefined) continue;
      const key = `${e.epoch}:${e.offset}`;
      if (seen.has(key)) {
        out.duplicates++;
        problem(`duplicate ${key}`);
        continue;
      }
      seen.add(key);
      out.delivered++;
      const last = out.last;
      if (expectNext) {
        const fits = (expectNext.epoch === null || expectNext.epoch === e.epoch) && e.offset === expectNext.offset;
        if (!fits) {
          out.gaps++;
          problem(`after a discontinuity to ${expectNext.epoch}:${expectNext.offset - 1} the next event was ${key}`);
        }
        expectNext = null;
      } else if (last && (last.epoch !== e.epoch || e.offset !== last.offset + 1)) {
        out.gaps++;
        problem(`${last.epoch}:${last.offset} → ${key} without a discontinuity event`);
      }
      out.last = { epoch: e.epoch, offset: e.offset };
    }
    return out;
  }
}

/** Sums ledger checks of many clients. */
export function sumChecks(checks: LedgerCheck[]): { clients: number; delivered: number; duplicates: number; gaps: number; discontinuities: Record<string, number>; recoveries: number; problems: string[] } {
  const total = { clients: checks.length, delivered: 0, duplicates: 0, gaps: 0, discontinuities: {} as Record<string, number>, recoveries: 0, problems: [] as string[] };
  checks.forEach((c, i) => {
    total.delivered += c.delivered;
    total.duplicates += c.duplicates;
    total.gaps += c.gaps;
    total.recoveries += c.recoveries;
    for (const [k, v] of Object.entries(c.discontinuities)) total.discontinuities[k] = (total.discontinuities[k] ?? 0) + v;
    for (const p of c.problems) if (total.problems.length < 10) total.problems.push(`client ${i}: ${p}`);
  });
  return total;
}
