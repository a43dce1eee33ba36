/**
 * PROTOCOL.md §5 snapshots and batches. Batches run against the target like every other file.
 * Snapshots need an application snapshot provider, which the standalone CLI does not have, so
 * those tests embed our server in-process through `createServer` (server/mod.ts) with a
 * `snapshot` hook, and still talk to it only over a real WebSocket.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { ClientPool, connectReady, isExternal, payloadOf, testWith, uniqueTopic } from "./support.ts";
import { randomSecret, startTarget } from "./target.ts";
import { ofType, onTopic, type WireClient } from "./wire.ts";
import type { WseServer } from "../../server/types.ts";

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

describe("snapshots (in-process server with a snapshot provider)", () => {
  const secret = randomSecret();
  let server: WseServer | null = null;
  let url = "";
  const asked: { user: string; topic: string }[] = [];

  afterAll(async () => {
    await server?.stop();
  });

  async function setup(): Promise<string> {
    if (server) return url;
    const mod = await import("../../server/mod.ts");
    const created = mod.createServer({
      host: "127.0.0.1",
      port: 0,
      jwt: { secret },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      hooks: {
        snapshot: (conn, topic) => {
          asked.push({ user: conn.userId, topic });
          if (topic.startsWith("typed.")) return { type: "board_snapshot", payload: { topic, rows: [1, 2, 3] } };
          if (topic.startsWith("bare.")) return { price: 42 };
          return null;
        },
      },
    });
    server = created;
    url = (await created.listen()).url;
    return url;
  }

  async function connect(sub: string): Promise<WireClient> {
    const token = await new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(secret));
    const u = new URL(await setup());
    u.searchParams.set("token", token);
    const client = await pool.connect(u.toString());
    await client.handshake();
    return client;
  }

  const snapTest = (name: string, fn: () => Promise<void>) => {
    if (isExternal) {
      console.warn(`[conformance] SKIP "${name}": snapshots need an application provider; only the in-process server has one`);
      test.skip(name, fn);
    } else test(name, fn, 20_000);
  };

  snapTest("sync_request → one c:S message per snapshot, then snapshot_complete", async () => {
    const client = await connect("snap-user");
    const typed = uniqueTopic("typed");
    const bare = uniqueTopic("bare");
    const none = uniqueTopic("none");
    const since = client.mark();
    client.send({ c: "S", t: "sync_request", p: { topics: [typed, bare, none], include_snapshots: true, include_history: false, last_sequence: 0 } });
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
    expect(asked.filter((a) => a.user === "snap-user").map((a) => a.topic).sort()).toEqual([typed, bare, none].sort());
  });

  snapTest("snapshots go out encrypted on an E2E connection", async () => {
    const token = await new SignJWT({ sub: "snap-e2e" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(secret));
    const u = new URL(await setup());
    u.searchParams.set("token", token);
    const client = await pool.connect(u.toString());
    await client.handshake({ encryption: true });
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
