import { describe, expect, test } from "bun:test";
import { WSETimeoutError } from "./errors.ts";
import { clientEvent, EventQueue, eventFromEnvelope } from "./events.ts";

describe("events", () => {
  test("envelope → event keeps every field", () => {
    const e = eventFromEnvelope({ tp: "t", e: "0000beef", o: 7, c: "U", t: "x", id: "i", ts: "2026-01-01T00:00:00.000Z", seq: 3, v: 1, pri: 8, cid: "c", sig: "s", p: { a: 1 } });
    expect(e).toEqual({
      type: "x", payload: { a: 1 }, id: "i", sequence: 3, timestamp: "2026-01-01T00:00:00.000Z", category: "U",
      priority: 8, correlationId: "c", topic: "t", epoch: "0000beef", offset: 7, version: 1, signature: "s",
    });
    expect(clientEvent("discontinuity", { topic: "t" }, "t")).toMatchObject({ type: "discontinuity", category: "client", topic: "t" });
  });

  test("queue: FIFO, hands events to waiting readers, drops the oldest when full", async () => {
    const q = new EventQueue(2);
    const waiting = q.next();
    q.push(clientEvent("a", {}));
    expect((await waiting)?.type).toBe("a");
    for (const t of ["b", "c", "d"]) q.push(clientEvent(t, {}));
    expect(q.size).toBe(2);
    expect(q.dropped).toBe(1);
    expect((await q.next())?.type).toBe("c");
    expect((await q.next())?.type).toBe("d");
  });

  test("queue: timeout rejects and leaves no stale waiter; close ends readers", async () => {
    const q = new EventQueue();
    await expect(q.next(20)).rejects.toBeInstanceOf(WSETimeoutError);
    q.push(clientEvent("after-timeout", {}));
    expect((await q.next())?.type).toBe("after-timeout");
    const reader = q.next();
    q.close();
    expect(await reader).toBeNull();
    q.push(clientEvent("ignored", {}));
    expect(await q.next()).toBeNull();
    expect(() => new EventQueue(0)).toThrow(RangeError);
  });
});
