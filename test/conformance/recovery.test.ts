/**
 * PROTOCOL.md §4 recovery: a client that reconnects with its last `(epoch, offset)` per topic gets
 * exactly the publications it missed, in order, then the live ones, with no gap and no duplicate
 * at the seam, even while a publisher keeps publishing; otherwise nothing is replayed and the
 * reply says why (`epoch_changed`, `too_many`, `evicted`, `no_history`) and where the stream is.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testSpawned, testWith, uniqueTopic } from "./support.ts";
import { startTarget, type Target } from "./target.ts";
import { onTopic, sleep, type WireClient } from "./wire.ts";

const RECOVERY_CAP = 150;
const target = await startTarget({ recoveryMaxCount: RECOVERY_CAP });
afterAll(() => target.stop());
const pool = new ClientPool();

const HEX8 = /^[0-9a-f]{8}$/;

/** Offsets of the publications on `topic` received from frame index `since`. */
function offsets(client: WireClient, topic: string, since = 0): number[] {
  return client.frames.slice(since).filter(onTopic(topic)).map((f) => f.envelope!.o as number);
}

/** Publishes `n` events sequentially; returns the positions. */
async function publishMany(t: Target, topic: string, n: number, type = "tick"): Promise<{ epoch: string; offset: number }[]> {
  const out: { epoch: string; offset: number }[] = [];
  for (let i = 0; i < n; i++) out.push(await t.publish(topic, type, { i }));
  return out;
}

/** Subscribes with recovery positions; returns the reply and the frame index before the request. */
async function resubscribe(client: WireClient, topics: string[], recovery: Record<string, { epoch: string; offset: number }>) {
  const since = client.mark();
  const reply = await client.subscribe(topics, { recover: true, recovery });
  return { reply: payloadOf(reply), since };
}

/** Expects a live publication (published now) to be the next thing after the reply, with `offset`. */
async function expectLiveNext(t: Target, client: WireClient, topic: string, since: number, offset: number): Promise<void> {
  await t.publish(topic, "live", { live: true });
  const got = await client.waitFor(onTopic(topic), 5000, since);
  expect(got.envelope!.t).toBe("live");
  expect(got.envelope!.o).toBe(offset);
}

describe("recovered", () => {
  testWith(target, ["jwt", "api"], "reconnect with a position → exactly the missed publications, then live", async () => {
    const topic = uniqueTopic("rec");
    const first = await connectReady(pool, target);
    await first.subscribe([topic], { recover: true });
    const pos = await publishMany(target, topic, 5);
    await first.waitForCount(onTopic(topic), 5);
    await first.close();
    await publishMany(target, topic, 7);

    const second = await connectReady(pool, target);
    const { reply, since } = await resubscribe(second, [topic], { [topic]: { epoch: pos[4]!.epoch, offset: 4 } });
    expect(reply.success).toBe(true);
    expect(reply.recoverable).toBe(true);
    expect(reply.recovered).toBe(true);
    const r = reply.recovery[topic];
    expect(r.recovered).toBe(true);
    expect(r.count).toBe(7);
    expect(r.epoch).toBe(pos[4]!.epoch);
    expect(r.offset).toBe(11);
    expect(r.reason).toBeUndefined();
    const replayed = await second.waitForCount(onTopic(topic), 7, 5000, since);
    expect(replayed.map((f) => f.envelope!.o)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(replayed.map((f) => (f.envelope!.p as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const f of replayed) {
      expect(f.envelope!.tp).toBe(topic);
      expect(f.envelope!.e).toBe(pos[4]!.epoch);
    }
    await expectLiveNext(target, second, topic, since + second.frames.slice(since).indexOf(replayed[6]!) + 1, 12);
  });

  for (const variant of ["msgpack", "encrypted", "zstd"] as const) {
    testWith(target, ["jwt", "api"], `replayed publications use the connection's wire form (${variant})`, async () => {
      const topic = uniqueTopic(`var-${variant}`);
      const pos = await publishMany(target, topic, 4);
      await target.publish(topic, "big", { text: "recover me ".repeat(300) });
      const client = await connectReady(pool, target, {
        query: variant === "msgpack" ? { format: "msgpack" } : undefined,
        encryption: variant === "encrypted",
        features: variant === "zstd" ? { zstd: true } : undefined,
      });
      const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 1 } });
      expect(reply.recovery[topic]).toMatchObject({ recovered: true, count: 3 });
      const frames = await client.waitForCount(onTopic(topic), 3, 5000, since);
      expect(frames.map((f) => f.envelope!.o)).toEqual([2, 3, 4]);
      const kinds = frames.map((f) => f.kind);
      if (variant === "msgpack") expect(kinds).toEqual(["M", "M", "M"]);
      if (variant === "encrypted") expect(kinds).toEqual(["E", "E", "E"]);
      if (variant === "zstd") expect(kinds).toEqual(["text", "text", "Z"]);
      expect((frames[2]!.envelope!.p as { text: string }).text).toBe("recover me ".repeat(300));
    });
  }

  testWith(target, ["jwt", "api"], "an up-to-date position recovers zero publications", async () => {
    const topic = uniqueTopic("zero");
    const pos = await publishMany(target, topic, 3);
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[2]!.epoch, offset: 2 } });
    expect(reply.recovery[topic].recovered).toBe(true);
    expect(reply.recovery[topic].count).toBe(0);
    expect(reply.recovery[topic].offset).toBe(2);
    await expectLiveNext(target, client, topic, since, 3);
  });

  testWith(target, ["jwt", "api"], "each topic recovers from its own position (fix)", async () => {
    const [a, b] = [uniqueTopic("pa"), uniqueTopic("pb")];
    const pa = await publishMany(target, a, 10);
    const pb = await publishMany(target, b, 10);
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [a, b], {
      [a]: { epoch: pa[0]!.epoch, offset: 2 },
      [b]: { epoch: pb[0]!.epoch, offset: 7 },
    });
    expect(reply.recovered).toBe(true);
    expect(reply.recovery[a]).toMatchObject({ recovered: true, count: 7, offset: 9 });
    expect(reply.recovery[b]).toMatchObject({ recovered: true, count: 2, offset: 9 });
    await client.waitForCount(onTopic(a), 7, 5000, since);
    await client.waitForCount(onTopic(b), 2, 5000, since);
    await sleep(100);
    expect(offsets(client, a, since)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(offsets(client, b, since)).toEqual([8, 9]);
  });

  testWith(
    target,
    ["jwt", "api"],
    "no gap and no duplicate at the seam while a publisher keeps publishing",
    async () => {
      const topic = uniqueTopic("seam");
      const control = await connectReady(pool, target, { claims: { sub: "control" } });
      await control.subscribe([topic]);
      const first = await connectReady(pool, target, { claims: { sub: "mover" } });
      await first.subscribe([topic], { recover: true });

      let published = 0;
      let stop = false;
      let lastPosition = { epoch: "", offset: -1 };
      // Three concurrent HTTP publishers, so publications race the replay from several sides.
      // Bounded: they stop when told, or after 3000 publications in all.
      const publisher = Promise.all(
        [0, 1, 2].map(async () => {
          while (!stop && published < 3000) {
            const pos = await target.publish(topic, "tick", { n: published });
            if (pos.offset > lastPosition.offset) lastPosition = pos;
            published++;
          }
        }),
      ).then(() => undefined);
      const waitPublished = async (n: number) => {
        for (let i = 0; i < 400 && published < n; i++) await sleep(10);
        expect(published).toBeGreaterThanOrEqual(n);
      };

      try {
        await first.waitForCount(onTopic(topic), 20, 10_000);
        await first.close();
        const seen = offsets(first, topic);
        const last = seen[seen.length - 1]!;
        const epoch = first.frames.filter(onTopic(topic))[0]!.envelope!.e as string;
        expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i));

        await waitPublished(last + 1 + 40); // at least 40 missed while away
        const second = await connectReady(pool, target, { claims: { sub: "mover" } });
        const { reply, since } = await resubscribe(second, [topic], { [topic]: { epoch, offset: last } });
        const r = reply.recovery[topic];
        expect(r.recovered).toBe(true);
        expect(r.count).toBe(r.offset - last);
        expect(r.count).toBeGreaterThanOrEqual(40);
        expect(r.count).toBeLessThanOrEqual(RECOVERY_CAP);

        await waitPublished(published + 40); // live traffic continues across the seam
        stop = true;
        await publisher;
        const finalOffset = lastPosition.offset;
        await second.waitFor((f) => f.envelope?.tp === topic && f.envelope.o === finalOffset, 10_000, since, `offset ${finalOffset}`);
        await control.waitFor((f) => f.envelope?.tp === topic && f.envelope.o === finalOffset, 10_000, 0, `control offset ${finalOffset}`);
        const got = offsets(second, topic, since);
        const expected = Array.from({ length: finalOffset - last }, (_, i) => last + 1 + i);
        expect(got).toEqual(expected);
        expect(offsets(control, topic)).toEqual(Array.from({ length: finalOffset + 1 }, (_, i) => i));
      } finally {
        stop = true;
        await publisher;
      }
    },
    40_000,
  );
});

describe("rapid reconnects", () => {
  testWith(
    target,
    ["jwt", "api"],
    "12 reconnects in a row under continuous publishing: each connection continues exactly where the last one stopped",
    async () => {
      const topic = uniqueTopic("rapid");
      let stop = false;
      let top = -1;
      const publisher = Promise.all(
        [0, 1].map(async () => {
          for (let i = 0; !stop && i < 3000; i++) {
            const pos = await target.publish(topic, "tick", {});
            if (pos.offset > top) top = pos.offset;
          }
        }),
      );
      try {
        let position: { epoch: string; offset: number } | null = null;
        const seen: number[] = [];
        for (let round = 0; round < 12; round++) {
          const client = await connectReady(pool, target, { claims: { sub: "rapid" } });
          const { reply, since } = position
            ? await resubscribe(client, [topic], { [topic]: position })
            : { reply: payloadOf(await client.subscribe([topic], { recover: true })), since: 0 };
          if (position) expect(reply.recovery[topic].recovered).toBe(true);
          // Stay until a few live publications arrived, then drop the connection.
          const want = (position?.offset ?? top) + 5;
          await client.waitFor((f) => f.envelope?.tp === topic && (f.envelope.o as number) >= want, 10_000, since, `offset ≥ ${want}`);
          await client.close();
          const got = offsets(client, topic, since);
          const start = position ? position.offset + 1 : got[0]!;
          expect(got).toEqual(Array.from({ length: got.length }, (_, i) => start + i));
          seen.push(...got);
          const last = client.frames.filter(onTopic(topic)).at(-1)!.envelope!;
          position = { epoch: last.e as string, offset: last.o as number };
        }
        expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => seen[0]! + i));
      } finally {
        stop = true;
        await publisher;
      }
    },
    60_000,
  );
});

describe("not recovered", () => {
  testWith(target, ["jwt", "api", "small-recovery-cap"], "more missed than the cap → too_many, nothing replayed", async () => {
    const topic = uniqueTopic("many");
    const pos = await publishMany(target, topic, RECOVERY_CAP + 12);
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 5 } });
    expect(reply.success).toBe(true);
    expect(reply.recovered).toBe(false);
    const r = reply.recovery[topic];
    expect(r.recovered).toBe(false);
    expect(r.reason).toBe("too_many");
    expect(r.epoch).toBe(pos[0]!.epoch);
    expect(r.offset).toBe(RECOVERY_CAP + 11);
    await expectLiveNext(target, client, topic, since, RECOVERY_CAP + 12);
  });

  testWith(target, ["jwt", "api"], "exactly the cap is still recovered", async () => {
    const topic = uniqueTopic("cap");
    const pos = await publishMany(target, topic, RECOVERY_CAP + 1);
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 0 } });
    expect(reply.recovery[topic]).toMatchObject({ recovered: true, count: RECOVERY_CAP });
    const frames = await client.waitForCount(onTopic(topic), RECOVERY_CAP, 5000, since);
    expect(frames.map((f) => f.envelope!.o)).toEqual(Array.from({ length: RECOVERY_CAP }, (_, i) => i + 1));
  });

  testWith(target, ["jwt", "api"], "a position for a topic that has no publications → not recovered, and the first publication is not lost", async () => {
    const topic = uniqueTopic("never");
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: "0000beef", offset: 41 } });
    expect(reply.success).toBe(true);
    const r = reply.recovery[topic];
    expect(r.recovered).toBe(false);
    // PROTOCOL.md does not pin the reason for an empty stream; both readings are accepted.
    expect(["no_history", "epoch_changed"]).toContain(r.reason);
    expect(r.count).toBe(0);
    // A 2.x client re-baselines on (epoch, offset) when both are non-null: an empty stream must
    // therefore be reported as epoch null or offset -1, or the first publication (o = 0) would
    // look like a duplicate and be dropped (UPSTREAM-NOTES A.6).
    expect(r.epoch === null || r.offset === -1).toBe(true);
    await expectLiveNext(target, client, topic, since, 0);
  });

  testWith(target, ["jwt", "api"], "a different epoch → epoch_changed, with the current epoch and offset", async () => {
    const topic = uniqueTopic("epoch");
    const pos = await publishMany(target, topic, 4);
    const other = pos[0]!.epoch === "00000001" ? "00000002" : "00000001";
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: other, offset: 1 } });
    const r = reply.recovery[topic];
    expect(r).toMatchObject({ recovered: false, reason: "epoch_changed", epoch: pos[0]!.epoch, offset: 3, count: 0 });
    await expectLiveNext(target, client, topic, since, 4);
  });

  testWith(target, ["jwt", "api"], "the ACL applies to recovery: a denied topic is failed and nothing replays", async () => {
    const topic = `secret.${uniqueTopic("acl")}`;
    const pos = await publishMany(target, topic, 3);
    const client = await connectReady(pool, target, { claims: { wse_topics: { allow: ["open.*"], deny: [] } } });
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 0 } });
    expect(reply.failed_topics).toEqual([topic]);
    await sleep(300);
    expect(offsets(client, topic, since)).toEqual([]);
  });

  testWith(target, ["jwt", "api", "spawned", "memory-broker"], "after a memory-broker restart the epoch changes → epoch_changed", async () => {
    const topic = uniqueTopic("restart");
    const before = await publishMany(target, topic, 3);
    await target.restart();
    const after = await publishMany(target, topic, 2);
    expect(after[0]!.epoch).toMatch(HEX8);
    expect(after[0]!.epoch).not.toBe(before[0]!.epoch);
    expect(after.map((p) => p.offset)).toEqual([0, 1]);
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: before[2]!.epoch, offset: 2 } });
    expect(reply.recovery[topic]).toMatchObject({ recovered: false, reason: "epoch_changed", epoch: after[0]!.epoch, offset: 1 });
    await sleep(200);
    expect(offsets(client, topic, since)).toEqual([]);
    await expectLiveNext(target, client, topic, since, 2);
  }, 30_000);
});

describe("recovery across a server restart with a shared broker", () => {
  testWith(target, ["jwt", "api", "spawned"], "with Redis the history survives a restart and recovery just works; with memory the reply re-baselines", async () => {
    const topic = uniqueTopic("survive");
    const before = await publishMany(target, topic, 3);
    await target.restart();
    await publishMany(target, topic, 2);
    const client = await connectReady(pool, target);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: before[0]!.epoch, offset: 0 } });
    const r = reply.recovery[topic];
    if (target.caps.has("memory-broker")) {
      expect(r).toMatchObject({ recovered: false, reason: "epoch_changed", offset: 1 });
    } else {
      expect(r).toMatchObject({ recovered: true, count: 4, epoch: before[0]!.epoch, offset: 4 });
      const frames = await client.waitForCount(onTopic(topic), 4, 5000, since);
      expect(frames.map((f) => f.envelope!.o)).toEqual([1, 2, 3, 4]);
    }
  }, 30_000);
});

describe("evicted, expired, recovery off", () => {
  let small: Target | null = null;
  let expiring: Target | null = null;
  let noRecovery: Target | null = null;
  afterAll(async () => {
    await small?.stop();
    await expiring?.stop();
    await noRecovery?.stop();
  });

  testSpawned("with recovery off the server says so and a recover request gets no_history", async () => {
    noRecovery = await startTarget({ recovery: false });
    const topic = uniqueTopic("off");
    const pos = await publishMany(noRecovery, topic, 3);
    const client = await connectReady(pool, noRecovery);
    expect(payloadOf(client.handshakeResult.ready).details.features.recovery).toBe(false);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 0 } });
    expect(reply.success).toBe(true);
    expect(reply.recoverable).toBe(false);
    expect(reply.recovery[topic]).toMatchObject({ recovered: false, reason: "no_history" });
    await sleep(200);
    expect(offsets(client, topic, since)).toEqual([]);
  });

  testSpawned("publications older than the history TTL are not replayed; the reply re-baselines consistently", async () => {
    expiring = await startTarget({ historyTtlMs: 1000 });
    const topic = uniqueTopic("ttl");
    const pos = await publishMany(expiring, topic, 3);
    await sleep(1600);
    const client = await connectReady(pool, expiring);
    const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 0 } });
    const r = reply.recovery[topic];
    expect(r.recovered).toBe(false);
    expect(["no_history", "evicted", "epoch_changed"]).toContain(r.reason);
    await sleep(200);
    expect(offsets(client, topic, since)).toEqual([]);
    // Whatever the reading, the reported position must be where the stream is: the next live
    // publication follows it directly.
    const live = await expiring.publish(topic, "live", {});
    if (r.epoch !== null) {
      expect(live.epoch).toBe(r.epoch);
      expect(live.offset).toBe(r.offset + 1);
    }
    const got = await client.waitFor(onTopic(topic), 5000, since);
    expect(got.envelope!.o).toBe(live.offset);
  });

  testSpawned(
    "publications pushed out of a 10-entry history → evicted, nothing replayed",
    async () => {
      small = await startTarget({ historySize: 10 });
      const topic = uniqueTopic("evict");
      const pos = await publishMany(small, topic, 25);
      const client = await connectReady(pool, small);
      const since0 = client.mark();
      const { reply, since } = await resubscribe(client, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 3 } });
      expect(since).toBe(since0);
      const r = reply.recovery[topic];
      expect(r).toMatchObject({ recovered: false, reason: "evicted", epoch: pos[0]!.epoch, offset: 24 });
      await expectLiveNext(small, client, topic, since, 25);
      // A position still inside the window recovers.
      const again = await connectReady(pool, small);
      const second = await resubscribe(again, [topic], { [topic]: { epoch: pos[0]!.epoch, offset: 20 } });
      expect(second.reply.recovery[topic]).toMatchObject({ recovered: true, count: 5 });
      const frames = await again.waitForCount(onTopic(topic), 5, 5000, second.since);
      expect(frames.map((f) => f.envelope!.o)).toEqual([21, 22, 23, 24, 25]);
    },
    30_000,
  );
});
