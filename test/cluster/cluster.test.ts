/**
 * Three server nodes as separate processes (`bun server/main.ts --redis …`) on one real
 * redis-server behave as one service: fan-out across nodes, recovery on another node with no
 * gap and no duplicate (also for publications made during the move), presence across nodes, a
 * SIGKILLed node's clients recovering elsewhere, and the nodes riding out a Redis restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedisServer, type RedisTestServer } from "../../scripts/redis-test-server.ts";
import { api, type ClusterNode, eventually, publishVia, startNode, stopNode, tokenFor } from "./cluster-kit.ts";
import { WsClient } from "./ws-client.ts";

let redis: RedisTestServer;
let nodes: ClusterNode[] = [];
const clients: WsClient[] = [];

async function connect(node: ClusterNode, user: string): Promise<WsClient> {
  const client = await WsClient.connect(`${node.ws}?token=${await tokenFor(user)}`);
  clients.push(client);
  return client;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const uniqueTopic = (name: string) => `${name}.${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  redis = await startRedisServer();
  nodes = await Promise.all(["A", "B", "C"].map((name) => startNode(name, redis.url)));
}, 60_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await Promise.all(nodes.map((node) => stopNode(node)));
  await redis?.stop();
}, 60_000);

describe("cluster of three nodes on one Redis", () => {
  test("a publication over HTTP on one node reaches subscribers on every node, same epoch and offset", async () => {
    const topic = uniqueTopic("fanout");
    const subscribers = await Promise.all(nodes.map((node, i) => connect(node, `fan-${i}`)));
    for (const client of subscribers) expect((await client.subscribe([topic])).success).toBe(true);
    const positions = [];
    for (let i = 0; i < 9; i++) positions.push(await publishVia(nodes[i % 3]!, topic, { i }));
    expect(positions.map((p) => p.offset)).toEqual(range(0, 8));
    expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
    for (const client of subscribers) {
      await eventually(() => client.offsets(topic).length === 9, 10_000, "nine publications on every node");
      expect(client.offsets(topic)).toEqual(range(0, 8));
      expect(client.publications.map((p) => (p.envelope.p as { i: number }).i)).toEqual(range(0, 8));
      expect(new Set(client.publications.map((p) => p.epoch))).toEqual(new Set([positions[0]!.epoch]));
    }
  }, 60_000);

  test("a client moved from node A to node B recovers what it missed, including publications made during the move", async () => {
    const topic = uniqueTopic("move");
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const onA = await connect(a, "mover");
    expect((await onA.subscribe([topic])).success).toBe(true);
    // A publisher on node C keeps publishing during the whole move.
    let publishing = true;
    let published = 0;
    const publisher = (async () => {
      while (publishing && published < 2_000) {
        await publishVia(c, topic, { n: published });
        published++;
      }
    })();
    await eventually(() => onA.offsets(topic).length >= 20, 10_000, "first publications on A");
    await onA.close();
    const last = onA.position(topic)!;
    await eventually(() => published >= last.offset + 30, 10_000, "publications while the client is away");
    const onB = await connect(b, "mover");
    const reply = await onB.subscribe([topic], { recovery: { [topic]: last } });
    const entry = (reply.recovery as Record<string, Record<string, unknown>>)[topic]!;
    expect(entry.recovered).toBe(true);
    expect(entry.epoch).toBe(last.epoch);
    expect(Number(entry.count)).toBeGreaterThanOrEqual(30);
    // Keep publishing a little after the move, then stop and check the seam.
    const afterMove = published + 20;
    await eventually(() => published >= afterMove, 10_000, "publications after the move");
    publishing = false;
    await publisher;
    await eventually(() => onB.position(topic)?.offset === published - 1, 10_000, "B caught up with the last publication");
    const seen = [...onA.offsets(topic), ...onB.offsets(topic)];
    expect(seen).toEqual(range(0, published - 1)); // no gap, no duplicate, in order
    expect(new Set(onB.publications.map((p) => p.epoch))).toEqual(new Set([last.epoch]));
  }, 60_000);

  test("many clients hopping between nodes under publishers on every node: each sees every offset once, in order", async () => {
    const topics = [uniqueTopic("hop"), uniqueTopic("hop"), uniqueTopic("hop")];
    const live = nodes.slice(0, 3);
    let publishing = true;
    const publishers = live.map(async (node, n) => {
      for (let i = 0; publishing && i < 400; i++) await publishVia(node, topics[(i + n) % 3]!, { n, i });
    });
    // Each hopper: a sequence of connections, recording per topic what every connection received.
    const hop = async (h: number) => {
      const seen: Record<string, number[]> = Object.fromEntries(topics.map((t) => [t, []]));
      let positions: Record<string, { epoch: string; offset: number }> | undefined;
      for (let step = 0; step < 3; step++) {
        const client = await connect(live[(h + step) % 3]!, `hopper-${h}`);
        const reply = await client.subscribe(topics, positions ? { recovery: positions } : {});
        if (positions) {
          for (const topic of topics) {
            expect((reply.recovery as Record<string, Record<string, unknown>>)[topic]?.recovered).toBe(true);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 100 + 50 * h));
        await client.close();
        positions = {};
        for (const topic of topics) {
          seen[topic]!.push(...client.offsets(topic));
          // Where to recover from next: the last publication received, or (none received) the
          // top this connection started from.
          const recovery = (reply.recovery as Record<string, Record<string, unknown>>)[topic]!;
          positions[topic] = client.position(topic) ?? { epoch: String(recovery.epoch), offset: Number(recovery.offset) };
        }
      }
      return { seen, positions: positions! };
    };
    const hoppers = await Promise.all(Array.from({ length: 6 }, (_, h) => hop(h)));
    publishing = false;
    await Promise.all(publishers);
    for (const { seen, positions } of hoppers) {
      for (const topic of topics) {
        const offsets = seen[topic]!;
        // Contiguous from where the first connection started to where the last one stopped.
        expect(offsets.length).toBeGreaterThan(0);
        expect(offsets).toEqual(range(offsets[0]!, positions[topic]!.offset));
      }
    }
  }, 90_000);

  test("presence across nodes: one join per user, leave only when the user's last connection goes", async () => {
    const topic = uniqueTopic("presence");
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const watcher = await connect(c, "watcher");
    expect((await watcher.subscribe([topic])).success).toBe(true);
    const aliceOnA = await connect(a, "alice");
    const aliceOnB = await connect(b, "alice");
    expect((await aliceOnA.subscribe([topic], { presence: { status: "here" } })).success).toBe(true);
    expect((await aliceOnB.subscribe([topic], { presence: { status: "here" } })).success).toBe(true);
    const bobOnB = await connect(b, "bob");
    expect((await bobOnB.subscribe([topic], { presence: { role: "x" } })).success).toBe(true);
    const events = () =>
      watcher.messages.filter((m) => String(m.t).startsWith("presence_") && m.p?.topic === topic)
        .map((m) => [m.t, m.p?.user_id]);
    await eventually(() => events().length >= 2, 10_000, "joins");
    const summary = await api(a, `/api/presence/${topic}`);
    expect(summary.status).toBe(200);
    expect(JSON.stringify(summary.body)).toContain("alice");
    expect(JSON.stringify(summary.body)).toContain("bob");

    await aliceOnA.close();
    // Bob's leave after alice's first close is the marker: alice must not have left by then.
    await bobOnB.close();
    await eventually(() => events().length >= 3, 10_000, "bob's leave");
    expect(events()).toEqual([["presence_join", "alice"], ["presence_join", "bob"], ["presence_leave", "bob"]]);
    await aliceOnB.close();
    await eventually(() => events().length >= 4, 10_000, "alice's leave");
    expect(events()[3]).toEqual(["presence_leave", "alice"]);
  }, 60_000);

  test("SIGKILL of a node: its client reconnects to another node and recovers everything", async () => {
    const topic = uniqueTopic("crash");
    const victim = await startNode("D", redis.url);
    nodes.push(victim);
    const [a, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const onVictim = await connect(victim, "survivor");
    expect((await onVictim.subscribe([topic])).success).toBe(true);
    for (let i = 0; i < 10; i++) await publishVia(a, topic, { i });
    await eventually(() => onVictim.offsets(topic).length === 10, 10_000, "publications before the crash");
    await stopNode(victim, "SIGKILL");
    await eventually(() => onVictim.closeCode !== null, 10_000, "the socket to notice the crash");
    for (let i = 10; i < 25; i++) await publishVia(a, topic, { i });
    const last = onVictim.position(topic)!;
    const moved = await connect(c, "survivor");
    const reply = await moved.subscribe([topic], { recovery: { [topic]: last } });
    expect((reply.recovery as Record<string, Record<string, unknown>>)[topic]).toMatchObject({ recovered: true, count: 15, offset: 24 });
    await publishVia(a, topic, { i: 25 });
    await eventually(() => moved.offsets(topic).length === 16, 10_000, "recovered + live");
    expect([...onVictim.offsets(topic), ...moved.offsets(topic)]).toEqual(range(0, 25));
  }, 60_000);

  test("Redis restart: nodes report degraded and refuse publishes (503), then come back and serve again", async () => {
    const topic = uniqueTopic("restart");
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const listener = await connect(b, "listener");
    expect((await listener.subscribe([topic])).success).toBe(true);
    const before = await publishVia(a, topic, { phase: "before" });
    await eventually(() => listener.offsets(topic).length === 1, 10_000, "publication before the restart");

    await redis.kill();
    await eventually(async () => (await fetch(`${a.http}/health`)).status === 503, 10_000, "A degraded");
    const health = await (await fetch(`${b.http}/health`)).json();
    expect(health.status).toBe("degraded");
    const refused = await api(a, "/api/publish", { topic, type: "event", payload: { phase: "down" } });
    expect(refused.status).toBe(503);
    expect(listener.closeCode).toBeNull(); // local connections stay up

    await redis.start();
    for (const node of nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null)) {
      await eventually(async () => (await fetch(`${node.http}/health`)).status === 200, 15_000, `${node.name} healthy again`);
    }
    // Redis lost everything: the stream starts over in a new epoch, delivered to the old subscriber.
    const after = await publishVia(a, topic, { phase: "after" });
    expect(after.offset).toBe(0);
    expect(after.epoch).not.toBe(before.epoch);
    await eventually(() => listener.offsets(topic).length === 2, 10_000, "publication after the restart");
    expect(listener.publications.at(-1)).toMatchObject({ epoch: after.epoch, offset: 0 });
    // A client that recovers with the old position is told the epoch changed.
    const late = await connect(a, "late");
    const reply = await late.subscribe([topic], { recovery: { [topic]: { epoch: before.epoch, offset: before.offset } } });
    expect((reply.recovery as Record<string, Record<string, unknown>>)[topic]).toMatchObject({
      recovered: false,
      reason: "epoch_changed",
      epoch: after.epoch,
      offset: 0,
    });
  }, 90_000);
});
