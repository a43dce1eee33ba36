import { afterEach, describe, expect, test } from "bun:test";
import type { BrokerEvent, PublicationData } from "./types.ts";
import { MemoryBroker } from "./memory.ts";

let clock = 1_000_000;
const brokers: MemoryBroker[] = [];
function make(options: ConstructorParameters<typeof MemoryBroker>[0] = {}): MemoryBroker {
  const broker = new MemoryBroker({ now: () => clock, sweepIntervalMs: 0, ...options });
  brokers.push(broker);
  return broker;
}
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
});

let counter = 0;
function data(payload: unknown = { n: counter }): PublicationData {
  return { type: "t", payload, id: `id-${counter++}`, ts: new Date(clock).toISOString() };
}

describe("MemoryBroker streams", () => {
  test("epoch is 8 hex digits and offsets start at 0", async () => {
    const b = make();
    const top = await b.top("a");
    expect(top.epoch).toMatch(/^[0-9a-f]{8}$/);
    expect(top.offset).toBe(-1);
    const p0 = await b.publish("a", data());
    const p1 = await b.publish("a", data());
    expect([p0.offset, p1.offset]).toEqual([0, 1]);
    expect(p0.epoch).toBe(top.epoch);
    expect((await b.top("a")).offset).toBe(1);
  });

  test("topics have independent streams", async () => {
    const b = make();
    await b.publish("a", data());
    const pb = await b.publish("b", data());
    expect(pb.offset).toBe(0);
  });

  test("publish hands the publication to the handler after appending", async () => {
    const b = make();
    const seen: BrokerEvent[] = [];
    b.setHandler((e) => {
      seen.push(e);
    });
    const p = await b.publish("a", data());
    expect(seen).toEqual([{ kind: "publication", publication: p }]);
    const h = await b.history("a", -1, 10);
    expect(h.publications.map((x) => x.offset)).toEqual([0]);
  });

  test("history since an offset, limit, and count bound → truncated", async () => {
    const b = make({ historySize: 5 });
    for (let i = 0; i < 8; i++) await b.publish("a", data());
    let h = await b.history("a", 4, 100);
    expect(h.publications.map((p) => p.offset)).toEqual([5, 6, 7]);
    expect(h.truncated).toBe(false);
    expect(h.top.offset).toBe(7);
    h = await b.history("a", 2, 100);
    expect(h.truncated).toBe(false); // offsets 3..7 retained
    h = await b.history("a", 1, 100);
    expect(h.truncated).toBe(true); // offset 2 was dropped
    expect(h.publications.map((p) => p.offset)).toEqual([3, 4, 5, 6, 7]);
    h = await b.history("a", 2, 2);
    expect(h.publications.map((p) => p.offset)).toEqual([3, 4]);
    h = await b.history("a", 7, 100);
    expect(h.publications).toEqual([]);
    expect(h.truncated).toBe(false);
  });

  test("TTL expiry of the whole history starts a new epoch", async () => {
    const b = make({ historyTtlMs: 1000 });
    const first = await b.publish("a", data());
    await b.publish("a", data());
    clock += 500;
    await b.publish("a", data());
    clock += 600; // first two expired, third still retained
    let h = await b.history("a", -1, 10);
    expect(h.top.epoch).toBe(first.epoch);
    expect(h.publications.map((p) => p.offset)).toEqual([2]);
    expect(h.truncated).toBe(true);
    clock += 1000; // everything expired
    h = await b.history("a", 2, 10);
    expect(h.top.epoch).not.toBe(first.epoch);
    expect(h.top.offset).toBe(-1);
    const next = await b.publish("a", data());
    expect(next.offset).toBe(0);
  });

  test("global memory budget evicts the oldest entries across topics", async () => {
    const big = "x".repeat(1000);
    const b = make({ memoryBudget: 5000 });
    const a0 = await b.publish("a", data({ big }));
    await b.publish("b", data({ big }));
    for (let i = 0; i < 4; i++) await b.publish("c", data({ big }));
    expect(b.retainedBytes).toBeLessThanOrEqual(5000);
    // "a" lost its only publication to the budget → new epoch
    const ta = await b.top("a");
    expect(ta.epoch).not.toBe(a0.epoch);
    const hc = await b.history("c", -1, 10);
    expect(hc.publications.length).toBeGreaterThan(0);
    expect(hc.publications.at(-1)!.offset).toBe(3);
  });

  test("many publications on one topic keep memory bounded (queue compaction)", async () => {
    const b = make({ historySize: 10 });
    for (let i = 0; i < 20_000; i++) b.publishSync("a", data(i));
    const h = await b.history("a", -1, 100);
    expect(h.publications.map((p) => p.offset)).toEqual([...Array(10).keys()].map((i) => 19_990 + i));
    expect(b.retainedBytes).toBeLessThan(10 * 400);
  });

  test("history size 0 keeps no history but offsets still advance", async () => {
    const b = make({ historySize: 0 });
    await b.publish("a", data());
    await b.publish("a", data());
    const h = await b.history("a", 0, 10);
    expect(h.top.offset).toBe(1);
    expect(h.truncated).toBe(true);
    expect(h.publications).toEqual([]);
  });

  test("idempotent publish returns the first position within the TTL", async () => {
    const b = make();
    const d = data();
    const p1 = await b.publish("a", d, { idempotencyTtlMs: 1000 });
    const p2 = await b.publish("a", d, { idempotencyTtlMs: 1000 });
    expect(p2).toBe(p1);
    expect((await b.top("a")).offset).toBe(0);
    clock += 1001;
    const p3 = await b.publish("a", d, { idempotencyTtlMs: 1000 });
    expect(p3.offset).toBe(1);
  });
});

describe("MemoryBroker presence", () => {
  test("join on a user's first connection, leave on the last, update everywhere", async () => {
    const b = make();
    const events: BrokerEvent[] = [];
    b.setHandler((e) => {
      events.push(e);
    });
    await b.presenceAdd("room", { userId: "u1", connectionId: "c1", data: { s: 1 } });
    await b.presenceAdd("room", { userId: "u1", connectionId: "c2", data: { s: 2 } });
    await b.presenceAdd("room", { userId: "u2", connectionId: "c3", data: {} });
    expect(events.map((e) => e.kind === "presence" && `${e.action}:${e.userId}`)).toEqual(["join:u1", "join:u2"]);
    expect((await b.presence("room")).length).toBe(3);
    await b.presenceUpdate("room", "c2", { s: 3 });
    expect(events.at(-1)).toEqual({ kind: "presence", topic: "room", action: "update", userId: "u1", data: { s: 3 } });
    await b.presenceRemove("room", "c1");
    expect(events.length).toBe(3); // u1 still has c2
    await b.presenceRemove("room", "c2");
    expect(events.at(-1)).toMatchObject({ action: "leave", userId: "u1" });
    await b.presenceRemove("room", "c2"); // unknown → no event
    expect(events.length).toBe(4);
  });

  test("closed broker rejects", async () => {
    const b = make();
    await b.close();
    await expect(b.publish("a", data())).rejects.toThrow("closed");
  });
});

describe("MemoryBroker retention against a model", () => {
  test("random interleaving of topics, count bound, TTL and budget: history is always the newest retained suffix", async () => {
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff);
    const ttl = 1000;
    const b = make({ historySize: 5, historyTtlMs: ttl, memoryBudget: 20 * 200 });
    // Model: per topic, [offset, published at] of what must be retained (budget aside).
    const model = new Map<string, { epoch: string; sent: Array<[number, number]> }>();
    for (let step = 0; step < 3000; step++) {
      clock += Math.floor(random() * 40);
      const topic = `t${Math.floor(random() * 6)}`;
      const p = b.publishSync(topic, data({ step }));
      let m = model.get(topic);
      if (!m || m.epoch !== p.epoch) model.set(topic, (m = { epoch: p.epoch, sent: [] }));
      m.sent.push([p.offset, clock]);
      if (step % 50 !== 0) continue;
      let retained = 0;
      for (const [name, mm] of model) {
        const h = await b.history(name, -1, 100);
        const offsets = h.publications.map((x) => x.offset);
        // Contiguous, ending at the top (or empty), never more than the count bound, none expired.
        if (offsets.length > 0) {
          expect(h.top.epoch).toBe(mm.epoch);
          expect(offsets.at(-1)).toBe(h.top.offset);
          expect(offsets).toEqual([...offsets.keys()].map((i) => offsets[0]! + i));
        }
        expect(offsets.length).toBeLessThanOrEqual(5);
        const alive = new Set(mm.sent.filter(([, at]) => at + ttl > clock).map(([o]) => o));
        for (const o of offsets) expect(alive.has(o)).toBe(true);
        retained += offsets.length;
      }
      expect(b.retainedBytes).toBeLessThanOrEqual(20 * 200);
      if (retained === 0) expect(b.retainedBytes).toBe(0);
    }
    clock += ttl;
    b.sweep();
    expect(b.retainedBytes).toBe(0);
  });
});
