import { describe, expect, test } from "bun:test";
import type { HistoryResult, Publication } from "../broker/types.ts";
import { decideRecovery, parsePosition } from "./recovery.ts";

const EPOCH = "0000beef";
function pubs(from: number, to: number, epoch = EPOCH): Publication[] {
  const out: Publication[] = [];
  for (let o = from; o <= to; o++) out.push({ topic: "t", epoch, offset: o, data: { type: "x", payload: {}, id: `${o}`, ts: "" } });
  return out;
}
function history(top: number, retainedFrom: number, since: number, limit: number, epoch = EPOCH): HistoryResult {
  const all = pubs(retainedFrom, top, epoch).filter((p) => p.offset > since);
  return { top: { epoch, offset: top }, publications: all.slice(0, limit), truncated: since < top && since + 1 < retainedFrom };
}

describe("decideRecovery", () => {
  test("same epoch, everything retained, under the cap → recovered with exactly the missed range", () => {
    const r = decideRecovery({ epoch: EPOCH, offset: 41 }, history(45, 0, 41, 501), 500);
    expect(r.recovered).toBe(true);
    if (r.recovered) expect(r.publications.map((p) => p.offset)).toEqual([42, 43, 44, 45]);
  });
  test("nothing missed → recovered with zero publications", () => {
    const r = decideRecovery({ epoch: EPOCH, offset: 45 }, history(45, 0, 45, 501), 500);
    expect(r).toMatchObject({ recovered: true, publications: [] });
  });
  test("empty stream and position -1 → recovered", () => {
    const r = decideRecovery({ epoch: EPOCH, offset: -1 }, { top: { epoch: EPOCH, offset: -1 }, publications: [], truncated: false }, 500);
    expect(r.recovered).toBe(true);
  });
  test("other epoch → epoch_changed", () => {
    const r = decideRecovery({ epoch: "12345678", offset: 3 }, history(45, 0, 3, 501), 500);
    expect(r).toMatchObject({ recovered: false, reason: "epoch_changed", top: { epoch: EPOCH, offset: 45 } });
  });
  test("a position past the top → not recovered", () => {
    const r = decideRecovery({ epoch: EPOCH, offset: 50 }, history(45, 0, 50, 501), 500);
    expect(r.recovered).toBe(false);
  });
  test("some missed publications dropped → evicted", () => {
    const r = decideRecovery({ epoch: EPOCH, offset: 10 }, history(45, 20, 10, 501), 500);
    expect(r).toMatchObject({ recovered: false, reason: "evicted" });
  });
  test("nothing retained at all → no_history", () => {
    const r = decideRecovery({ epoch: EPOCH, offset: 10 }, history(45, 46, 10, 501), 500);
    expect(r).toMatchObject({ recovered: false, reason: "no_history" });
  });
  test("more than the cap → too_many; exactly the cap → recovered", () => {
    expect(decideRecovery({ epoch: EPOCH, offset: 0 }, history(11, 0, 0, 11), 10)).toMatchObject({ recovered: false, reason: "too_many" });
    expect(decideRecovery({ epoch: EPOCH, offset: 1 }, history(11, 0, 1, 11), 10).recovered).toBe(true);
  });
  test("cap 0 → any miss is too_many", () => {
    expect(decideRecovery({ epoch: EPOCH, offset: 4 }, history(5, 0, 4, 1), 0)).toMatchObject({ reason: "too_many" });
  });
  test("publications past the reported top (a racing read) extend the recovered range", () => {
    const h = history(5, 0, 2, 100);
    h.top = { epoch: EPOCH, offset: 4 };
    const r = decideRecovery({ epoch: EPOCH, offset: 2 }, h, 100);
    expect(r).toMatchObject({ recovered: true, top: { offset: 5 } });
  });
  test("a short answer (missing tail) is not trusted", () => {
    const h = history(5, 0, 0, 100);
    h.publications.pop();
    expect(decideRecovery({ epoch: EPOCH, offset: 0 }, h, 100)).toMatchObject({ recovered: false, reason: "evicted" });
  });
  test("a broker answer with a hole is not trusted", () => {
    const h = history(5, 0, 0, 100);
    h.publications.splice(1, 1);
    expect(decideRecovery({ epoch: EPOCH, offset: 0 }, h, 100)).toMatchObject({ recovered: false, reason: "evicted" });
  });
});

describe("parsePosition", () => {
  test("accepts 8 hex digits and an integer offset ≥ -1", () => {
    expect(parsePosition({ epoch: "0000BEEF", offset: 41 })).toEqual({ epoch: "0000beef", offset: 41 });
    expect(parsePosition({ epoch: "0000beef", offset: "7" })).toEqual({ epoch: "0000beef", offset: 7 });
    expect(parsePosition({ epoch: "0000beef", offset: -1 })).toEqual({ epoch: "0000beef", offset: -1 });
  });
  test("rejects malformed input", () => {
    for (const bad of [null, 5, "x", {}, { epoch: "beef", offset: 1 }, { epoch: "0000beef", offset: 1.5 }, { epoch: "0000beef", offset: -2 }, { epoch: "0000beef" }, { epoch: 1, offset: 1 }]) {
      expect(parsePosition(bad)).toBeNull();
    }
  });
});
