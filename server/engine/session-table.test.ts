import { describe, expect, test } from "bun:test";
import { SessionTable } from "./session-table.ts";

const entry = (connectionId: string) => ({ connectionId });

describe("SessionTable", () => {
  test("reserved ids are distinct, url-safe and find their session; delete frees the slot for the next id", () => {
    const table = new SessionTable<{ connectionId: string }>();
    const ids = Array.from({ length: 300 }, () => table.reserveId());
    expect(new Set(ids).size).toBe(300);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{16}\.[0-9a-z]+$/);
    expect(new Set(ids.map((id) => id.slice(0, 16))).size).toBe(300); // the random part alone is unique
    const sessions = ids.map(entry);
    for (const s of sessions) expect(table.add(s)).toBe(true);
    expect(table.size).toBe(300);
    for (const s of sessions) expect(table.get(s.connectionId)).toBe(s);
    expect([...table.values()]).toEqual(sessions);
    expect(table.delete(sessions[7]!)).toBe(true);
    expect(table.delete(sessions[7]!)).toBe(false);
    expect(table.get(sessions[7]!.connectionId)).toBeUndefined();
    const again = table.reserveId();
    expect(again.endsWith("." + (7).toString(36))).toBe(true); // the freed slot, a new random part
    expect(again).not.toBe(sessions[7]!.connectionId);
    expect(table.get(again)).toBeUndefined(); // reserved, not added
    expect(table.size).toBe(299);
  });

  test("an id of a deleted session never finds the slot's next session", () => {
    const table = new SessionTable<{ connectionId: string }>();
    const first = entry(table.reserveId());
    table.add(first);
    table.delete(first);
    const second = entry(table.reserveId());
    table.add(second);
    expect(table.get(first.connectionId)).toBeUndefined();
    expect(table.get(second.connectionId)).toBe(second);
  });

  test("foreign ids, malformed lookups, duplicates and slots handed out twice stay correct", () => {
    const table = new SessionTable<{ connectionId: string }>();
    const a = entry(table.reserveId()); // slot 0
    const foreign = entry("c0ffee00-0000-4000-8000-000000000001");
    const squatter = entry("made-elsewhere.1"); // names slot 1 before it is reserved: kept in the Map
    expect(table.add(foreign)).toBe(true);
    expect(table.add(squatter)).toBe(true);
    expect(table.add(entry(foreign.connectionId))).toBe(false);
    expect(table.add(a)).toBe(true);
    const b = entry(table.reserveId()); // slot 1, free in the slot array
    expect(table.add(b)).toBe(true);
    for (const s of [a, b, foreign, squatter]) expect(table.get(s.connectionId)).toBe(s);
    for (const bad of ["", ".", "x.", "x.-1", "x.zzzzzzzzzz", "x.0.", "__proto__", "constructor", "x.0 ", a.connectionId + "x"]) {
      expect(table.get(bad)).toBeUndefined();
    }
    expect(table.get(a.connectionId.slice(0, 16) + ".1")).toBeUndefined(); // a's random part, b's slot
    // A refused id gives its slot back; releasing twice hands the slot out twice, and the second
    // session to arrive goes to the Map instead of replacing the first.
    const refused = table.reserveId();
    table.release(refused);
    table.release(refused);
    const c = entry(table.reserveId());
    const d = entry(table.reserveId());
    expect(c.connectionId.split(".")[1]).toBe(d.connectionId.split(".")[1]);
    expect(table.add(c)).toBe(true);
    expect(table.add(d)).toBe(true);
    expect(table.get(c.connectionId)).toBe(c);
    expect(table.get(d.connectionId)).toBe(d);
    expect(table.size).toBe(6);
    expect(new Set(table.values()).size).toBe(6);
    for (const s of [a, b, c, d, foreign, squatter]) expect(table.delete(s)).toBe(true);
    expect(table.size).toBe(0);
    expect([...table.values()]).toEqual([]);
  });

  test("sessions removed while iterating are skipped, the rest are all seen once", () => {
    const table = new SessionTable<{ connectionId: string }>();
    const sessions = Array.from({ length: 10 }, () => entry(table.reserveId()));
    for (const s of sessions) table.add(s);
    const seen: string[] = [];
    for (const s of table.values()) {
      seen.push(s.connectionId);
      table.delete(s);
      if (s === sessions[2]) table.delete(sessions[5]!);
    }
    expect(seen).toEqual(sessions.filter((s) => s !== sessions[5]).map((s) => s.connectionId));
    expect(table.size).toBe(0);
  });

  test("forEach visits slot and Map sessions once, skipping ones removed during the walk", () => {
    const table = new SessionTable<{ connectionId: string }>();
    const slotted = Array.from({ length: 5 }, () => entry(table.reserveId()));
    const foreign = ["f1", "f2", "f3"].map(entry);
    for (const s of [...slotted, ...foreign]) table.add(s);
    const seen: string[] = [];
    table.forEach((s) => {
      seen.push(s.connectionId);
      if (s === slotted[1]) table.delete(slotted[3]!);
      if (s === foreign[0]) table.delete(foreign[1]!);
    });
    expect(seen).toEqual([slotted[0], slotted[1], slotted[2], slotted[4], foreign[0], foreign[2]].map((s) => s!.connectionId));
  });
});
