/**
 * PROTOCOL.md §5 snapshots and batches. Batches run against the target like every other file.
 * Snapshots need an application snapshot provider, which the standalone CLI does not have, so
 * those tests spawn `snapshot-host.ts` (our server embedded through its public API with a
 * `snapshot` hook, on Bun or Deno like the rest) and talk to it only over a real WebSocket.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testSpawned, testWith, uniqueTopic } from "./support.ts";
import { startTarget, type Target } from "./target.ts";
import { ofType, onTopic } from "./wire.ts";

const target = await startTarget({});
afterAll(() => target.stop());
const pool = new ClientPool();

describe("batch", () => {
  testWith(target, ["jwt", "api"], "a batch is unwrapped and each message handled in order", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("batch");
    const since = client.mark();
    // Inner messages without `c`, as the Python client's send_batch() builds them.
    client.send({
      c: "WSE",
      t: "batch",
      p: {
        messages: [
          { t: "ping", p: { timestamp: 1 }, v: 1 },
          { t: "subscription_update", p: { action: "subscribe", topics: [topic] }, v: 1 },
          { t: "ping", p: { timestamp: 2 }, v: 1 },
        ],
        count: 3,
      },
    });
    const pongs = await client.waitForCount(ofType("PONG"), 2, 5000, since);
    const reply = await client.waitForType("subscription_update", 5000, since);
    expect(payloadOf(reply).success_topics).toEqual([topic]);
    expect(pongs.map((f) => payloadOf(f.envelope).client_timestamp)).toEqual([1, 2]);
    const order = client.frames
      .slice(since)
      .map((f) => f.envelope?.t)
      .filter((t) => t === "PONG" || t === "subscription_update");
    expect(order).toEqual(["PONG", "subscription_update", "PONG"]);
    await target.publish(topic, "after_batch", {});
    await client.waitFor(onTopic(topic), 5000);
  });

  testWith(target, ["jwt"], "a batch with a bad inner message still handles the good ones", async () => {
    const client = await connectReady(pool, target);
    const since = client.mark();
    client.send({ c: "WSE", t: "batch", p: { messages: [42, { t: "ping", p: { timestamp: 7 } }], count: 2 } });
    const pong = await client.waitForType("PONG", 5000, since);
    expect(payloadOf(pong).client_timestamp).toBe(7);
    expect(client.closeInfo).toBeNull();
  });
});

describe("snapshots (our server embedded with a snapshot provider: snapshot-host.ts)", () => {
  let app: Target | null = null;
  afterAll(async () => {
    await app?.stop();
  });
  const setup = async () => (app ??= await startTarget({ entry: "snapshot-host" }));

  testSpawned("sync_request → one c:S message per snapshot, then snapshot_complete", async () => {
    const t = await setup();
    const client = await connectReady(pool, t, { claims: { sub: "snap-user" } });
    const typed = uniqueTopic("typed");
    const bare = uniqueTopic("bare");
    const none = uniqueTopic("none");
    const since = client.mark();
    // The Python client's request shape.
    client.send({ c: "S", t: "sync_request", p: { topics: [typed, bare, none], include_snapshots: true, include_history: false, last_sequence: 0 }, pri: 8 });
    const complete = await client.waitForType("snapshot_complete", 5000, since);
    expect(complete.c).toBe("WSE");
    const p = payloadOf(complete);
    expect(p.success).toBe(true);
    expect(p.snapshots_sent).toBe(2);
    expect(p.topics).toEqual(expect.arrayContaining([typed, bare]));

    const before = client.frames.slice(since, client.frames.findIndex((f) => f.envelope === complete));
    const snaps = before.filter((f) => f.envelope?.c === "S");
    expect(snaps.length).toBe(2);
    const typedMsg = snaps.find((f) => f.envelope!.t === "board_snapshot")!.envelope!;
    expect(typedMsg.p).toEqual({ topic: typed, rows: [1, 2, 3] });
    const bareMsg = snaps.find((f) => f.envelope!.t === "snapshot")!.envelope!;
    expect(bareMsg.p).toEqual({ topic: bare, data: { price: 42 } });
  });

  testSpawned("snapshots keep the requested topic order even when a provider call is slow", async () => {
    const t = await setup();
    const client = await connectReady(pool, t);
    const slow = uniqueTopic("slow");
    const fast = uniqueTopic("bare");
    const since = client.mark();
    client.send({ c: "S", t: "sync_request", p: { topics: [slow, fast] } });
    await client.waitForType("snapshot_complete", 5000, since);
    const order = client.frames
      .slice(since)
      .filter((f) => f.envelope?.c === "S")
      .map((f) => (f.envelope!.p as { topic: string }).topic);
    expect(order).toEqual([slow, fast]);
  });

  testSpawned("snapshots go out encrypted on an E2E connection", async () => {
    const t = await setup();
    const client = await connectReady(pool, t, { encryption: true });
    expect(client.key).not.toBeNull();
    const topic = uniqueTopic("typed");
    const since = client.mark();
    await client.sendEncrypted({ c: "S", t: "sync_request", p: { topics: [topic] } });
    await client.waitForType("snapshot_complete", 5000, since);
    const snap = client.frames.slice(since).find((f) => f.envelope?.t === "board_snapshot")!;
    expect(snap.kind).toBe("E");
    const complete = client.frames.slice(since).find((f) => f.envelope?.t === "snapshot_complete")!;
    expect(complete.kind).toBe("E");
  });
});
