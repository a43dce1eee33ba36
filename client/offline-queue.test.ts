import { describe, expect, test } from "bun:test";
import { MemoryQueueStorage, OfflineQueue } from "./offline-queue.ts";

describe("offline queue", () => {
  test("drains by priority, then by age", async () => {
    const q = new OfflineQueue();
    const order = [["a", 5], ["b", 10], ["c", 1], ["d", 5], ["e", 8], ["f", 10]] as const;
    for (const [type, priority] of order) await q.enqueue({ type, payload: {}, priority });
    expect(q.size).toBe(6);
    expect(q.peek().map((m) => m.type)).toEqual(["b", "f", "e", "a", "d", "c"]);
    expect((await q.drain()).map((m) => m.type)).toEqual(["b", "f", "e", "a", "d", "c"]);
    expect(q.size).toBe(0);
    expect(await q.drain()).toEqual([]);
  });

  test("expired messages are dropped at drain", async () => {
    let now = 0;
    const q = new OfflineQueue({ maxAge: 1000, now: () => now });
    await q.enqueue({ type: "old", payload: {}, priority: 10 });
    now = 900;
    await q.enqueue({ type: "new", payload: {}, priority: 1 });
    now = 1500;
    expect((await q.drain()).map((m) => m.type)).toEqual(["new"]);
    expect(q.getStats().dropped).toBe(1);
  });

  test("when full, a higher-priority message evicts the lowest; an equal one is refused", async () => {
    const q = new OfflineQueue({ maxSize: 2 });
    expect(await q.enqueue({ type: "low", payload: {}, priority: 1 })).toBe(true);
    expect(await q.enqueue({ type: "mid", payload: {}, priority: 5 })).toBe(true);
    expect(await q.enqueue({ type: "low2", payload: {}, priority: 1 })).toBe(false);
    expect(await q.enqueue({ type: "hi", payload: {}, priority: 10 })).toBe(true);
    expect(q.peek().map((m) => m.type)).toEqual(["hi", "mid"]);
    expect(q.getStats()).toMatchObject({ size: 2, capacity: 2, dropped: 2, storage: "MemoryQueueStorage" });
  });

  test("storage is written through and restored by a new queue", async () => {
    const storage = new MemoryQueueStorage();
    const first = new OfflineQueue({ storage });
    await first.enqueue({ type: "x", payload: { n: 1 }, priority: 3, correlationId: "c1" });
    await first.enqueue({ type: "y", payload: { n: 2 }, priority: 9 });
    const second = new OfflineQueue({ storage });
    await second.restore();
    await second.enqueue({ type: "z", payload: {}, priority: 3 });
    const drained = await second.drain();
    expect(drained.map((m) => m.type)).toEqual(["y", "x", "z"]);
    expect(drained[1]).toMatchObject({ payload: { n: 1 }, correlationId: "c1" });
    expect(new Set(drained.map((m) => m.id)).size).toBe(3);
    expect(await storage.load()).toEqual([]);
  });

  test("clear empties queue and storage", async () => {
    const storage = new MemoryQueueStorage();
    const q = new OfflineQueue({ storage });
    await q.enqueue({ type: "x", payload: {}, priority: 5 });
    await q.clear();
    expect(q.size).toBe(0);
    expect(await storage.load()).toEqual([]);
    expect(() => new OfflineQueue({ maxSize: 0 })).toThrow(RangeError);
  });
});
