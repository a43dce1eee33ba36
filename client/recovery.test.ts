import { describe, expect, test } from "bun:test";
import { createDedupWindow, createSequencer } from "../wasm/mod.ts";
import { RecoveryTracker } from "./recovery.ts";

const E1 = "0000beef";
const E2 = "cafe0001";

function tracker(now = () => 0) {
  return new RecoveryTracker(createSequencer(), createDedupWindow(), 1000, now);
}

describe("recovery tracker (over the WASM sequencer)", () => {
  test("deliver in order, drop duplicates by offset and by id, report gaps", () => {
    const t = tracker();
    expect(t.classify({ topic: "a", epoch: E1, offset: 0, id: "m0" })).toBe("deliver");
    expect(t.classify({ topic: "a", epoch: E1, offset: 1, id: "m1" })).toBe("deliver");
    expect(t.classify({ topic: "a", epoch: E1, offset: 1, id: "m1" })).toBe("duplicate");
    expect(t.classify({ topic: "a", epoch: E1, offset: 0, id: "other" })).toBe("duplicate");
    expect(t.classify({ topic: "a", epoch: E1, offset: 3, id: "m3" })).toBe("gap");
    expect(t.position("a")).toEqual({ epoch: E1, offset: 1 });
    expect(t.classify({ id: "u1" })).toBe("unstamped");
    expect(t.classify({ id: "u1" })).toBe("duplicate");
    expect(t.getStats()).toMatchObject({ duplicatesDetected: 3, gapsDetected: 1, topicPositions: 1 });
  });

  test("a new epoch re-baselines and remembers where it came from", () => {
    const t = tracker();
    t.classify({ topic: "a", epoch: E1, offset: 0 });
    t.classify({ topic: "a", epoch: E1, offset: 1 });
    expect(t.classify({ topic: "a", epoch: E2, offset: 0 })).toBe("rebaseline");
    expect(t.lastRebaselineFrom).toEqual({ epoch: E1, offset: 1 });
    expect(t.position("a")).toEqual({ epoch: E2, offset: 0 });
  });

  test("classify agrees with a bare sequencer through deliver, gap, duplicate, rebaseline, reset and forget", () => {
    const t = tracker();
    const reference = createSequencer();
    let random = 7;
    const pick = (n: number) => {
      random = (random * 1103515245 + 12345) % 2147483648;
      return random % n;
    };
    const epochs = [E1, E2, "00000003"];
    const topics = ["a", "b"];
    for (let step = 0; step < 3000; step++) {
      const topic = topics[pick(2)]!;
      const action = pick(12);
      if (action === 0) {
        t.forget(topic);
        reference.forget(topic);
        continue;
      }
      if (action === 1) {
        // A subscribe reply moving the position (not ahead of it).
        const epoch = epochs[pick(3)]!;
        const offset = pick(50);
        const before = reference.position(topic);
        t.applyReply(topic, { epoch, offset, recovered: false }, undefined);
        if (!(before && before.epoch === epoch && before.offset >= offset)) reference.reset(topic, epoch, offset);
        continue;
      }
      const current = reference.position(topic);
      const epoch = pick(4) === 0 ? epochs[pick(3)]! : (current?.epoch ?? E1);
      const offset = Math.max(0, (current?.offset ?? 0) + pick(4) - 1);
      const expected = reference.check(topic, epoch, offset);
      expect(t.classify({ topic, epoch, offset })).toBe(expected);
      if (expected === "rebaseline") expect(t.lastRebaselineFrom).toEqual(current!);
      expect(t.position(topic)).toEqual(reference.position(topic));
    }
  });

  test("one recovery request in flight per topic, retried after the timeout", () => {
    let now = 0;
    const t = tracker(() => now);
    expect(t.beginRecovery("a")).toBe(true);
    expect(t.beginRecovery("a")).toBe(false);
    expect(t.beginRecovery("b")).toBe(true);
    now = 1000;
    expect(t.beginRecovery("a")).toBe(true);
    t.endRecovery("a");
    expect(t.recovering("a")).toBe(false);
    expect(t.getStats().recoveryRequests).toBe(3);
  });

  test("recovered:true leaves the position to the replay", () => {
    const t = tracker();
    t.classify({ topic: "a", epoch: E1, offset: 4 });
    const out = t.applyReply("a", { epoch: E1, offset: 9, recovered: true, count: 5 }, { epoch: E1, offset: 4 });
    expect(out).toEqual({ kind: "recovered", count: 5 });
    expect(t.position("a")).toEqual({ epoch: E1, offset: 4 });
    for (let o = 5; o <= 9; o++) expect(t.classify({ topic: "a", epoch: E1, offset: o })).toBe("deliver");
  });

  test("recovered:false re-baselines forward and reports a discontinuity", () => {
    const t = tracker();
    t.classify({ topic: "a", epoch: E1, offset: 4 });
    const out = t.applyReply("a", { epoch: E2, offset: 2, recovered: false, reason: "epoch_changed" }, { epoch: E1, offset: 4 });
    expect(out).toEqual({
      kind: "discontinuity",
      payload: { topic: "a", reason: "epoch_changed", previous: { epoch: E1, offset: 4 }, current: { epoch: E2, offset: 2 } },
    });
    expect(t.classify({ topic: "a", epoch: E2, offset: 2 })).toBe("duplicate");
    expect(t.classify({ topic: "a", epoch: E2, offset: 3 })).toBe("deliver");
  });

  test("an empty restarted stream (epoch null) lets its first publication through", () => {
    const t = tracker();
    t.classify({ topic: "a", epoch: E1, offset: 4 });
    const out = t.applyReply("a", { epoch: null, offset: 0, recovered: false, reason: "no_history" }, { epoch: E1, offset: 4 });
    expect(out.kind).toBe("discontinuity");
    expect(t.classify({ topic: "a", epoch: E2, offset: 0 })).toBe("deliver");
  });

  test("nothing missed → no discontinuity; reply never moves a position backwards", () => {
    const t = tracker();
    t.classify({ topic: "a", epoch: E1, offset: 7 });
    expect(t.applyReply("a", { epoch: E1, offset: 7, recovered: false, reason: "no_history" }, { epoch: E1, offset: 7 })).toEqual({ kind: "none" });
    expect(t.applyReply("a", { epoch: E1, offset: 3, recovered: false }, undefined)).toEqual({ kind: "none" });
    expect(t.position("a")).toEqual({ epoch: E1, offset: 7 });
  });

  test("a live re-baseline already reported is not reported again by the reply", () => {
    const t = tracker();
    t.classify({ topic: "a", epoch: E1, offset: 4 });
    t.classify({ topic: "a", epoch: E2, offset: 0 }); // arrived before the reply
    expect(t.applyReply("a", { epoch: E2, offset: 0, recovered: false, reason: "epoch_changed" }, { epoch: E1, offset: 4 })).toEqual({ kind: "none" });
  });

  test("recovery map holds only topics with positions", () => {
    const t = tracker();
    t.classify({ topic: "a", epoch: E1, offset: 2 });
    expect(t.recoveryMap(["a", "b"])).toEqual({ a: { epoch: E1, offset: 2 } });
    t.forget("a");
    expect(t.recoveryMap(["a"])).toEqual({});
  });
});
